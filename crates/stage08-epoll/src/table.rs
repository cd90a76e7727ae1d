//! Stage 8's connections, found by token and kept in order of last activity.
//!
//! epoll hands back, with each event, the 64-bit number the socket was
//! registered with. Ours is a token: an index into a `Vec` of slots, so finding
//! the connection for an event is one array access. A closed connection leaves
//! its slot on a free list and the next one accepted takes it, so the `Vec`
//! never grows past the most connections ever open at once.
//!
//! The occupied slots are also linked into a list ordered by last activity,
//! oldest first. When a connection moves bytes it goes to the end of the list,
//! in constant time. So the idle timeout never needs to look at every
//! connection: the oldest is always at the front; the loop closes from the
//! front while they are too old, and `epoll_wait` may sleep exactly until the
//! front one would expire.

use std::time::Instant;

/// A connection's number: its index in the table, and its epoll event data.
pub type Token = usize;

// ANCHOR: table
/// Values (connections) by token, with the least recently active first.
pub struct ConnectionTable<T> {
    slots: Vec<Slot<T>>,
    /// Tokens of empty slots, to use again before the `Vec` grows.
    free: Vec<Token>,
    /// Both ends of the activity list: the least and the most recently active.
    oldest: Option<Token>,
    newest: Option<Token>,
    len: usize,
}

struct Slot<T> {
    value: Option<T>,
    /// When the value was inserted or last touched.
    active_at: Instant,
    /// Neighbours in the activity list.
    older: Option<Token>,
    newer: Option<Token>,
}
// ANCHOR_END: table

impl<T> Default for ConnectionTable<T> {
    fn default() -> ConnectionTable<T> {
        ConnectionTable::new()
    }
}

impl<T> ConnectionTable<T> {
    pub fn new() -> ConnectionTable<T> {
        ConnectionTable {
            slots: Vec::new(),
            free: Vec::new(),
            oldest: None,
            newest: None,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` as the most recently active, and returns its token.
    pub fn insert(&mut self, value: T, now: Instant) -> Token {
        let slot = Slot {
            value: Some(value),
            active_at: now,
            older: None,
            newer: None,
        };
        let token = match self.free.pop() {
            Some(token) => {
                self.slots[token] = slot;
                token
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.len += 1;
        self.push_newest(token);
        token
    }

    /// The value behind a token, if the slot is occupied. A token from an old
    /// event may name a slot that has been emptied (or even filled again) since.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        self.slots.get_mut(token)?.value.as_mut()
    }

    /// Takes the value out; its slot becomes free.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        let value = self.slots.get_mut(token)?.value.take()?;
        self.unlink(token);
        self.free.push(token);
        self.len -= 1;
        Some(value)
    }

    // ANCHOR: touch
    /// Records activity: the value moves to the end of the list, as the newest.
    pub fn touch(&mut self, token: Token, now: Instant) {
        if self
            .slots
            .get(token)
            .is_none_or(|slot| slot.value.is_none())
        {
            return;
        }
        self.unlink(token);
        self.slots[token].active_at = now;
        self.push_newest(token);
    }

    /// The least recently active value's token, and when it was last active.
    pub fn oldest(&self) -> Option<(Token, Instant)> {
        let token = self.oldest?;
        Some((token, self.slots[token].active_at))
    }
    // ANCHOR_END: touch

    /// Every occupied token, oldest first.
    pub fn tokens(&self) -> Vec<Token> {
        let mut tokens = Vec::with_capacity(self.len);
        let mut next = self.oldest;
        while let Some(token) = next {
            tokens.push(token);
            next = self.slots[token].newer;
        }
        tokens
    }

    fn push_newest(&mut self, token: Token) {
        self.slots[token].older = self.newest;
        self.slots[token].newer = None;
        match self.newest {
            Some(previous) => self.slots[previous].newer = Some(token),
            None => self.oldest = Some(token),
        }
        self.newest = Some(token);
    }

    fn unlink(&mut self, token: Token) {
        let (older, newer) = (self.slots[token].older, self.slots[token].newer);
        match older {
            Some(older) => self.slots[older].newer = newer,
            None => self.oldest = newer,
        }
        match newer {
            Some(newer) => self.slots[newer].older = older,
            None => self.newest = older,
        }
        self.slots[token].older = None;
        self.slots[token].newer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn touched_values_move_to_the_end() {
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut table = ConnectionTable::new();
        let a = table.insert("a", at(0));
        let b = table.insert("b", at(1));
        let c = table.insert("c", at(2));
        assert_eq!(table.oldest(), Some((a, at(0))));
        table.touch(a, at(3));
        assert_eq!(table.tokens(), [b, c, a]);
        table.touch(c, at(4));
        assert_eq!(table.tokens(), [b, a, c]);
        assert_eq!(table.oldest(), Some((b, at(1))));
    }

    #[test]
    fn removed_slots_are_used_again() {
        let now = Instant::now();
        let mut table = ConnectionTable::new();
        let a = table.insert(1, now);
        let b = table.insert(2, now);
        assert_eq!(table.remove(a), Some(1));
        assert_eq!(table.remove(a), None);
        assert_eq!(table.get_mut(a), None);
        let c = table.insert(3, now);
        assert_eq!(c, a, "the free slot is taken first");
        assert_eq!(table.len(), 2);
        assert_eq!(table.tokens(), [b, c]);
        table.remove(b);
        table.remove(c);
        assert!(table.is_empty());
        assert_eq!(table.oldest(), None);
        table.touch(b, now); // a stale token does nothing
        assert!(table.tokens().is_empty());
    }
}
