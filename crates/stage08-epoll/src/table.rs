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
//!
//! A connection whose request head has begun to arrive is also in a second
//! list, of heads in progress, in the order of their deadlines. The activity
//! list cannot tell when a head is due: a client that trickles its head moves to
//! the end with each byte, yet its deadline stays where it was. The second list
//! can stay ordered just as cheaply, because every head has the same timeout: a
//! head that starts later is due later, so a new one simply goes at the end, and
//! a head that completes leaves from wherever it is, in constant time. The loop
//! looks only at the front of each list: O(1) per event, however many
//! connections are open.

use std::time::Instant;

/// A connection's number: its index in the table, and its epoll event data.
/// 32 bits are plenty (no process has four billion descriptors) and keep the
/// four links in every slot at half the size of `usize` ones.
pub type Token = u32;

// ANCHOR: table
/// Values (connections) by token, with the least recently active first.
pub struct ConnectionTable<T> {
    slots: Vec<Slot<T>>,
    /// Tokens of empty slots, to use again before the `Vec` grows.
    free: Vec<Token>,
    /// Both ends of the activity list: the least and the most recently active.
    oldest: Option<Token>,
    newest: Option<Token>,
    /// Both ends of the list of heads in progress: the first and last due.
    first_head_due: Option<Token>,
    last_head_due: Option<Token>,
    len: usize,
}

struct Slot<T> {
    value: Option<T>,
    /// When the value was inserted or last touched.
    active_at: Instant,
    /// Neighbours in the activity list.
    older: Option<Token>,
    newer: Option<Token>,
    /// When the head in progress must be whole; `None`: not in the heads list.
    head_due: Option<Instant>,
    /// Neighbours in the list of heads in progress.
    head_due_before: Option<Token>,
    head_due_after: Option<Token>,
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
            first_head_due: None,
            last_head_due: None,
            len: 0,
        }
    }

    // ANCHOR: with_capacity
    /// An empty table with room for `capacity` values, reserved at once.
    ///
    /// A `Vec` that outgrows its room moves to a block twice the size, copying
    /// every slot, and the block it leaves was written to: the allocator may
    /// keep it, in memory, for later. Reserving the most the table will ever
    /// hold avoids the moves, and costs far less than it seems: a large block
    /// is fresh memory from the kernel, which gives a page only when it is
    /// first written, so the slots never used cost address space, not memory.
    pub fn with_capacity(capacity: usize) -> ConnectionTable<T> {
        ConnectionTable {
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            ..ConnectionTable::new()
        }
    }
    // ANCHOR_END: with_capacity

    /// The bytes one slot takes in the table, whatever it holds.
    pub const fn slot_size() -> usize {
        std::mem::size_of::<Slot<T>>()
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
            head_due: None,
            head_due_before: None,
            head_due_after: None,
        };
        let token = match self.free.pop() {
            Some(token) => {
                self.slots[token as usize] = slot;
                token
            }
            None => {
                self.slots.push(slot);
                Token::try_from(self.slots.len() - 1).expect("fewer connections than descriptors")
            }
        };
        self.len += 1;
        self.push_newest(token);
        token
    }

    /// The value behind a token, if the slot is occupied. A token from an old
    /// event may name a slot that has been emptied (or even filled again) since.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        self.slots.get_mut(token as usize)?.value.as_mut()
    }

    /// Takes the value out; its slot becomes free.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        let value = self.slots.get_mut(token as usize)?.value.take()?;
        self.unlink(token);
        self.unlink_head(token);
        self.free.push(token);
        self.len -= 1;
        Some(value)
    }

    // ANCHOR: touch
    /// Records activity: the value moves to the end of the list, as the newest.
    pub fn touch(&mut self, token: Token, now: Instant) {
        if self
            .slots
            .get(token as usize)
            .is_none_or(|slot| slot.value.is_none())
        {
            return;
        }
        self.unlink(token);
        self.slots[token as usize].active_at = now;
        self.push_newest(token);
    }

    /// The least recently active value's token, and when it was last active.
    pub fn oldest(&self) -> Option<(Token, Instant)> {
        let token = self.oldest?;
        Some((token, self.slots[token as usize].active_at))
    }
    // ANCHOR_END: touch

    // ANCHOR: head_due
    /// Records when the head a connection is receiving must be whole, or that
    /// none is in progress (`None`). Heads must be given in the order they are
    /// due, which they are when every head has the same timeout: the list then
    /// stays sorted by adding at its end. Giving the same time again keeps the
    /// connection's place: a head that trickles in is still due when it was.
    pub fn set_head_due(&mut self, token: Token, due: Option<Instant>) {
        let Some(slot) = self.slots.get(token as usize) else {
            return;
        };
        if slot.value.is_none() || slot.head_due == due {
            return;
        }
        self.unlink_head(token);
        let Some(due) = due else {
            return;
        };
        let slot = &mut self.slots[token as usize];
        slot.head_due = Some(due);
        slot.head_due_before = self.last_head_due;
        match self.last_head_due {
            Some(previous) => self.slots[previous as usize].head_due_after = Some(token),
            None => self.first_head_due = Some(token),
        }
        self.last_head_due = Some(token);
    }

    /// The head in progress that is due first: its token, and when it is due.
    pub fn first_head_due(&self) -> Option<(Token, Instant)> {
        let token = self.first_head_due?;
        Some((token, self.slots[token as usize].head_due?))
    }
    // ANCHOR_END: head_due

    /// Every occupied token, oldest first.
    pub fn tokens(&self) -> Vec<Token> {
        let mut tokens = Vec::with_capacity(self.len);
        let mut next = self.oldest;
        while let Some(token) = next {
            tokens.push(token);
            next = self.slots[token as usize].newer;
        }
        tokens
    }

    fn push_newest(&mut self, token: Token) {
        self.slots[token as usize].older = self.newest;
        self.slots[token as usize].newer = None;
        match self.newest {
            Some(previous) => self.slots[previous as usize].newer = Some(token),
            None => self.oldest = Some(token),
        }
        self.newest = Some(token);
    }

    fn unlink(&mut self, token: Token) {
        let (older, newer) = (
            self.slots[token as usize].older,
            self.slots[token as usize].newer,
        );
        match older {
            Some(older) => self.slots[older as usize].newer = newer,
            None => self.oldest = newer,
        }
        match newer {
            Some(newer) => self.slots[newer as usize].older = older,
            None => self.newest = older,
        }
        self.slots[token as usize].older = None;
        self.slots[token as usize].newer = None;
    }

    /// Takes a slot out of the list of heads in progress, if it is in it.
    fn unlink_head(&mut self, token: Token) {
        let slot = &mut self.slots[token as usize];
        if slot.head_due.take().is_none() {
            return;
        }
        let before = slot.head_due_before.take();
        let after = slot.head_due_after.take();
        match before {
            Some(before) => self.slots[before as usize].head_due_after = after,
            None => self.first_head_due = after,
        }
        match after {
            Some(after) => self.slots[after as usize].head_due_before = before,
            None => self.last_head_due = before,
        }
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

    #[test]
    fn heads_in_progress_are_kept_in_the_order_they_are_due() {
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut table = ConnectionTable::new();
        let [a, b, c] = ["a", "b", "c"].map(|name| table.insert(name, start));
        assert_eq!(table.first_head_due(), None);
        table.set_head_due(a, Some(at(10)));
        table.set_head_due(b, Some(at(11)));
        table.set_head_due(c, Some(at(12)));
        // Activity does not move a head: a trickling one is due when it was.
        table.touch(a, at(5));
        table.set_head_due(a, Some(at(10)));
        assert_eq!(table.first_head_due(), Some((a, at(10))));
        // A head that completes leaves from the middle or the front.
        table.set_head_due(b, None);
        table.set_head_due(a, None);
        assert_eq!(table.first_head_due(), Some((c, at(12))));
        // The next head of a connection goes to the end.
        table.set_head_due(a, Some(at(13)));
        table.remove(c);
        assert_eq!(table.first_head_due(), Some((a, at(13))));
        table.remove(a);
        assert_eq!(table.first_head_due(), None);
        table.set_head_due(a, Some(at(14))); // a stale token does nothing
        assert_eq!(table.first_head_due(), None);
        assert_eq!(table.tokens(), [b]);
    }
}
