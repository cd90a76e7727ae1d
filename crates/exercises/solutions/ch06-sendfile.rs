//! Reference solution of ch06-sendfile (chapter 6).
//!
//! The rest of a file body goes out with `sendfile`: the kernel copies it from
//! the page cache to the socket, and this program never touches its bytes. On a
//! non-blocking socket `sendfile` behaves like `write`: it may take part of
//! what it is asked for, or nothing (`EAGAIN`), and `left` remembers the rest.

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::sendfile::sendfile;
use stage06_nonblocking::connection::Extensions;
use stage06_nonblocking::outgoing::{SendFile, WriteOutcome};
use stage06_nonblocking::{cli, serve};

const NAME: &str = "ch06-sendfile";

/// The most one `sendfile` call is asked for. Linux stops at about 2 GiB per
/// call anyway; on a non-blocking socket it stops far sooner, when the send
/// buffer is full.
const MOST_PER_SENDFILE: usize = 1 << 30;

/// Sends file bodies with `sendfile(2)`.
struct KernelSendsFiles;

impl SendFile for KernelSendsFiles {
    /// Given no offset, `sendfile` starts at the file's position and moves it
    /// on, as `read` would, so the next call carries on where this one stopped.
    fn send_file(
        &self,
        file: &mut File,
        socket: BorrowedFd<'_>,
        left: &mut u64,
    ) -> io::Result<WriteOutcome> {
        while *left > 0 {
            let wanted = usize::try_from(*left)
                .map_or(MOST_PER_SENDFILE, |left| left.min(MOST_PER_SENDFILE));
            match sendfile(socket, &*file, None, wanted) {
                Ok(count) if count > 0 => *left -= count as u64,
                // The file ended before the length we announced: an error makes
                // the connection close, so the client sees a cut, never a hang.
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was sent",
                    ));
                }
                // The send buffer is full: the connection asks again when the
                // socket has room.
                Err(Errno::EAGAIN) => return Ok(WriteOutcome::SocketFull),
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(WriteOutcome::Finished)
    }
}

fn main() {
    let arguments = cli(NAME, "stage 6, sending files with sendfile").parse();
    let extensions = Extensions {
        file_sender: Some(Arc::new(KernelSendsFiles)),
        ..Extensions::default()
    };
    serve(NAME, arguments, extensions);
}
