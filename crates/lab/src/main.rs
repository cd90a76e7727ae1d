//! `lab`: the measurement lab's own tool, for what wrk cannot do.
//!
//! `lab hold` opens many idle connections to a server and shows how many it
//! keeps, what they cost it in CPU, threads and memory (read from `/proc`), and
//! how long a fresh request takes meanwhile: once a second for a reader of
//! chapters 4 to 8, or, with `--json`, as one measurement that `scripts/bench`
//! turns into the book's tables.
//!
//! `lab canned` is the ceiling the stages are measured against: a responder
//! that answers every request head with the same page from memory, without
//! reading what was asked (`canned.rs` says why it exists). `lab send` sends a
//! fixed number of requests, for counting a server's system calls per request.

mod canned;
mod hold;
mod send;
mod wire;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use checker::process::tree_cpu_seconds;

use send::{Connections, send};

const USAGE: &str = "\
lab: the measurement lab's tool for what wrk cannot do

Usage:
  lab hold URL COUNT [--seconds N] [--pid PID] [--idle silent|keep-alive]
                     [--json [--probes N]]
      Opens COUNT connections and leaves them idle; once a second, prints how
      many the server still keeps open, how long a fresh request took, and,
      with --pid, the server's CPU, threads and memory. With --json, one
      measurement as one JSON line instead. `lab hold --help` says more.
  lab canned [--addr 127.0.0.1:0] [--page html/index.html] [--read-each-time]
      The ceiling: one thread, level-triggered epoll, and every request head
      answered with the same page from memory. It reads nothing of the request
      but its end, so it is no web server: a stage's share of its requests per
      second is what the stage's own work leaves. With --read-each-time, the
      page is opened, measured, read and closed for every request: the ceiling
      of a server that keeps no file open.
  lab send --addr HOST:PORT --requests N [--new-connection-each] [--path /index.html]
      Sends N requests one after another, on one kept-alive connection, or on
      a new connection each (for servers that close after every response).
      Prints one JSON line: how many were answered, in how many seconds.
  lab cpu --pid PID [--secs 2]
      Prints the process tree's CPU use, in percent of one core.
  lab cpu-time --pid PID
      Prints the CPU time the process tree has used so far, in seconds: its own,
      its reaped children's, and its live descendants'.
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.first().is_some_and(|command| command == "hold") {
        return hold::run(&arguments[1..]);
    }
    match run(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lab: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(arguments: &[String]) -> Result<(), String> {
    let (command, rest) = arguments.split_first().ok_or(USAGE)?;
    let value = |flag: &str| -> Option<&str> {
        let at = rest.iter().position(|argument| argument == flag)?;
        rest.get(at + 1).map(String::as_str)
    };
    let number = |flag: &str, default: f64| -> Result<f64, String> {
        value(flag).map_or(Ok(default), |text| {
            text.parse().map_err(|_| format!("{flag} wants a number"))
        })
    };
    match command.as_str() {
        "canned" => {
            let addr = resolve(value("--addr").unwrap_or("127.0.0.1:0"))?;
            let page_path = value("--page").unwrap_or("html/index.html");
            let page = std::fs::read(page_path).map_err(|error| format!("{page_path}: {error}"))?;
            let read_each_time = rest.iter().any(|argument| argument == "--read-each-time");
            let listener = canned::bind_and_announce(addr, page_path, read_each_time)
                .map_err(|error| format!("{addr}: {error}"))?;
            let reread = read_each_time.then_some(std::path::Path::new(page_path));
            canned::serve(listener, page, reread).map_err(|error| format!("serving: {error}"))
        }
        "send" => {
            let addr = resolve(value("--addr").ok_or("send needs --addr HOST:PORT")?)?;
            let connections = if rest
                .iter()
                .any(|argument| argument == "--new-connection-each")
            {
                Connections::NewEach
            } else {
                Connections::KeptAlive
            };
            let requests = number("--requests", 1000.0)? as usize;
            let path = value("--path").unwrap_or("/index.html");
            let (answered, took) = send(addr, path, requests, connections)
                .map_err(|error| format!("{addr}: {error}"))?;
            println!(
                "{{\"answered\":{answered},\"seconds\":{:.3}}}",
                took.as_secs_f64()
            );
            Ok(())
        }
        "cpu" | "cpu-time" => {
            let pid: u32 = value("--pid")
                .ok_or("cpu needs --pid")?
                .parse()
                .map_err(|_| "--pid wants a number")?;
            let read_cpu =
                || tree_cpu_seconds(pid).map_err(|error| format!("process {pid}: {error}"));
            if command == "cpu-time" {
                println!("{{\"cpu_seconds\":{:.3}}}", read_cpu()?);
                return Ok(());
            }
            let seconds = number("--secs", 2.0)?;
            let before = read_cpu()?;
            std::thread::sleep(Duration::from_secs_f64(seconds));
            let used = read_cpu()? - before;
            println!("{{\"cpu_percent\":{:.2}}}", 100.0 * used / seconds);
            Ok(())
        }
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    }
}

fn resolve(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|error| format!("{text}: {error}"))?
        .next()
        .ok_or_else(|| format!("{text} has no address"))
}
