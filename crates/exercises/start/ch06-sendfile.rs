//! Exercise ch06-sendfile (chapter 6): let the kernel send the files.
//!
//! Goal: a file's bytes go from the page cache to the socket with the system
//! call `sendfile`, without ever passing through this program. Today stage 6's
//! `Outgoing` reads each 64 KiB chunk of the file into a buffer and writes the
//! buffer to the socket: two copies of every byte, and two system calls per
//! chunk. Everything else stays as it is: the head still says
//! `Content-Length`, a partial send is finished later, `HEAD` gets no body, a
//! small page still leaves in one write.
//!
//! This is stage 6's server, whose `Outgoing` hands the rest of each file body
//! to the `SendFile` below, once the head and the first chunk (which leave from
//! memory, so a small page is still one write) are gone. It asks again each
//! time the socket may have room. What you write is `send_file`.
//!
//! Check your work:  scripts/exercise check ch06-sendfile
//! Stuck?            scripts/exercise hint ch06-sendfile

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use stage06_nonblocking::connection::Extensions;
use stage06_nonblocking::outgoing::{CHUNK_SIZE, SendFile, WriteOutcome};
use stage06_nonblocking::{cli, serve};

const NAME: &str = "ch06-sendfile";

/// Sends file bodies to the socket.
struct KernelSendsFiles;

impl SendFile for KernelSendsFiles {
    /// Start here: this is stage 6's way, a copy through memory. It reads a
    /// chunk, sends what the socket takes, and moves the file's position back
    /// over what it did not take, for the next call.
    fn send_file(
        &self,
        file: &mut File,
        socket: BorrowedFd<'_>,
        left: &mut u64,
    ) -> io::Result<WriteOutcome> {
        // Another descriptor for the same socket, non-blocking as it is.
        let mut socket = TcpStream::from(socket.try_clone_to_owned()?);
        let mut chunk = vec![0; CHUNK_SIZE];
        while *left > 0 {
            let wanted = usize::try_from(*left).map_or(CHUNK_SIZE, |left| left.min(CHUNK_SIZE));
            let read = file.read(&mut chunk[..wanted])?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let sent = match socket.write(&chunk[..read]) {
                Ok(sent) => sent,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    file.seek(SeekFrom::Current(-(read as i64)))?;
                    return Ok(WriteOutcome::SocketFull);
                }
                Err(error) => return Err(error),
            };
            file.seek(SeekFrom::Current(-((read - sent) as i64)))?;
            *left -= sent as u64;
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
