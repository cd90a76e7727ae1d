//! `scripts/exercise`: the runner for the exercises at the ends of the chapters.
//!
//! Each exercise is a small server in `crates/exercises/src/bin/ID.rs` that the
//! student grows. The runner builds it, starts it on a free port with a private
//! copy of the site, and runs the checker: the exercise's own checks, and the
//! checks of its chapter's stage, so nothing that worked may break.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use checker::checks::{self, Check};
use checker::exercises::{EXERCISES, Exercise, find};
use checker::harness::ServerProcess;
use checker::{Outcome, Report};

const USAGE: &str = "\
exercise: check your work on the course's exercises

Usage: scripts/exercise COMMAND [ID]

Commands:
  list          every exercise, and whether it is done
  show ID       what the exercise asks for, and the file to edit
  check ID      build the exercise, run its checks and its stage's checks
  hint ID       the next hint (--all for every hint at once)
  watch [ID]    check again whenever the file is saved; without an ID, go from
                one unfinished exercise to the next
  reset ID      put the starting code back (your version is kept in target/)
  verify        for teachers and CI: every starting point fails its checks and
                every reference solution passes them (--pristine: and every
                working copy is still its starting point)
  table         every exercise as a Markdown table, for the teachers' page
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = arguments.first().map(String::as_str).unwrap_or("help");
    let id = arguments
        .get(1)
        .map(String::as_str)
        .filter(|text| !text.starts_with("--"));
    let flag = |name: &str| arguments.iter().any(|argument| argument == name);
    let exercise = || {
        let id = id.ok_or_else(|| {
            format!("`{command}` needs an exercise ID; `scripts/exercise list` shows them")
        })?;
        find(id)
            .ok_or_else(|| format!("no exercise called {id:?}; `scripts/exercise list` shows them"))
    };
    let result = match command {
        "list" => list(),
        "show" => exercise().map(show),
        "check" => exercise().and_then(|exercise| {
            if check(exercise) {
                Ok(())
            } else {
                Err(String::new())
            }
        }),
        "hint" => exercise().and_then(|exercise| hint(exercise, flag("--all"))),
        "watch" => match id {
            Some(_) => exercise().and_then(|exercise| watch(Some(exercise))),
            None => watch(None),
        },
        "reset" => exercise().and_then(reset),
        "verify" => verify(flag("--pristine")),
        "table" => {
            print!("{}", table());
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("exercise: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

fn working_copy(exercise: &Exercise) -> PathBuf {
    workspace()
        .join("crates/exercises/src/bin")
        .join(format!("{}.rs", exercise.id))
}

fn starting_point(exercise: &Exercise) -> PathBuf {
    workspace()
        .join("crates/exercises/start")
        .join(format!("{}.rs", exercise.id))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// What happened when an exercise's server was built and checked.
enum Evaluation {
    DoesNotCompile(String),
    DidNotStart(String),
    Checked { own: Report, stage: Option<Report> },
}

impl Evaluation {
    fn is_done(&self) -> bool {
        match self {
            Evaluation::Checked { own, stage } => {
                own.all_passed() && stage.as_ref().is_none_or(Report::all_passed)
            }
            _ => false,
        }
    }

    /// A few words for `list`.
    fn status(&self) -> String {
        match self {
            Evaluation::DoesNotCompile(_) => "does not compile".into(),
            Evaluation::DidNotStart(_) => "does not start".into(),
            Evaluation::Checked { own, .. } if own.all_passed() => "done".into(),
            Evaluation::Checked { own, .. } => format!("to do: {}", failing(own)),
        }
    }
}

/// Builds `binary` (a working copy, `start-ID` or `solution-ID`) and runs the
/// exercise's checks against it, and its stage's checks too when `with_stage`.
fn evaluate(exercise: &Exercise, binary: &str, with_stage: bool) -> Evaluation {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format",
            "short",
            "-p",
            "exercises",
            "--bin",
            binary,
        ])
        .current_dir(workspace())
        .output();
    match built {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            return Evaluation::DoesNotCompile(
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        Err(error) => return Evaluation::DoesNotCompile(format!("cannot run cargo: {error}")),
    }
    let program = target_dir().join("debug").join(binary);
    let server = match ServerProcess::start(&program.to_string_lossy(), exercise.arguments) {
        Ok(server) => server,
        Err(error) => return Evaluation::DidNotStart(error.to_string()),
    };
    let target = server.target();
    let own_checks: Vec<Check> = exercise
        .checks
        .iter()
        .filter_map(|name| checks::find(name))
        .collect();
    let own = checker::run_checks(&target, exercise.chapter, &own_checks, |_| {});
    let stage = with_stage.then(|| {
        if !still_answers(&target) {
            return Ok(no_longer_answers(exercise.chapter));
        }
        checker::run_checks(
            &target,
            exercise.chapter,
            &checker::checks_for_stage(exercise.chapter),
            |_| {},
        )
    });
    match (own, stage.transpose()) {
        (Ok(own), Ok(stage)) => Evaluation::Checked { own, stage },
        (Err(error), _) | (_, Err(error)) => {
            Evaluation::DidNotStart(format!("cannot plant the checker's files: {error}"))
        }
    }
}

/// Whether the server still answers a plain `GET /`. A server that an
/// exercise's checks left stuck (a wait that blocks every thread, say) would make
/// each of the stage's checks wait for its own timeout, minutes in all.
fn still_answers(target: &checker::Target) -> bool {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.addr
    );
    checker::client::exchange(target.addr, request.as_bytes(), true).is_ok()
}

/// The stage's report when the server no longer answers: one failure that says
/// so, instead of every check failing on its own timeout.
fn no_longer_answers(chapter: u8) -> Report {
    Report {
        results: vec![checker::CheckResult {
            name: "still-answers",
            stage: chapter,
            behaviour: "after the exercise's checks, the server still answers GET /",
            outcome: Outcome::Failed(checker::Failure::new(
                "the server no longer answers GET / at all, so the stage's checks were not run",
                "a server that keeps working, whatever the exercise's checks did to it",
            )),
        }],
    }
}

fn list() -> Result<(), String> {
    build_every_exercise()?;
    let evaluations = in_parallel(EXERCISES, IN_PARALLEL, |exercise| {
        evaluate(exercise, exercise.id, false)
    });
    let mut done = 0;
    for (exercise, evaluation) in EXERCISES.iter().zip(evaluations) {
        done += usize::from(evaluation.is_done());
        println!(
            "{:26} ch. {}  {:38} {}",
            exercise.id,
            exercise.chapter,
            exercise.title,
            evaluation.status()
        );
    }
    println!("{done} of {} exercises done", EXERCISES.len());
    Ok(())
}

fn show(exercise: &Exercise) {
    println!(
        "{} (chapter {}): {}",
        exercise.id, exercise.chapter, exercise.title
    );
    println!("goal:  {}", squeeze(exercise.goal));
    println!("edit:  {}", relative(&working_copy(exercise)));
    println!("check: scripts/exercise check {}", exercise.id);
}

/// Prints what the checks found; true when the exercise is done.
fn check(exercise: &Exercise) -> bool {
    show(exercise);
    println!();
    let evaluation = evaluate(exercise, exercise.id, true);
    match &evaluation {
        Evaluation::DoesNotCompile(errors) => {
            println!("It does not compile yet:\n\n{errors}");
        }
        Evaluation::DidNotStart(why) => println!("The server did not start: {why}"),
        Evaluation::Checked { own, stage } => {
            for result in &own.results {
                println!("{result}");
            }
            if let Some(stage) = stage {
                let broken: Vec<_> = stage
                    .results
                    .iter()
                    .filter(|result| matches!(result.outcome, Outcome::Failed(_)))
                    .collect();
                if broken.is_empty() {
                    println!(
                        "stage {}: all {} checks still pass",
                        exercise.chapter,
                        stage.results.len()
                    );
                } else {
                    println!(
                        "stage {}: {} of {} checks now FAIL (they passed before):",
                        exercise.chapter,
                        broken.len(),
                        stage.results.len()
                    );
                    for result in broken {
                        println!("{result}");
                    }
                }
            }
        }
    }
    println!();
    if evaluation.is_done() {
        println!("Done: {} passes every check.", exercise.id);
    } else {
        println!(
            "Not done yet. A hint: scripts/exercise hint {}",
            exercise.id
        );
    }
    evaluation.is_done()
}

fn hint(exercise: &Exercise, all: bool) -> Result<(), String> {
    let state = target_dir().join("exercises/hints").join(exercise.id);
    let shown: usize = fs::read_to_string(&state)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    let count = exercise.hints.len();
    let upto = if all { count } else { (shown + 1).min(count) };
    let from = if all { 0 } else { upto - 1 };
    for (index, text) in exercise.hints.iter().enumerate().take(upto).skip(from) {
        println!("hint {} of {count}: {}", index + 1, squeeze(text));
    }
    if upto == count && !all && shown >= count {
        println!(
            "(that was the last one; the chapter's text and `scripts/exercise check` say the rest)"
        );
    }
    if let Some(folder) = state.parent() {
        fs::create_dir_all(folder).map_err(|error| error.to_string())?;
    }
    fs::write(&state, upto.to_string()).map_err(|error| error.to_string())
}

fn reset(exercise: &Exercise) -> Result<(), String> {
    let working = working_copy(exercise);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let backup = target_dir()
        .join("exercises/backup")
        .join(format!("{}-{stamp}.rs", exercise.id));
    if let Some(folder) = backup.parent() {
        fs::create_dir_all(folder).map_err(|error| error.to_string())?;
    }
    if working.exists() {
        fs::copy(&working, &backup)
            .map_err(|error| format!("cannot keep your version: {error}"))?;
    }
    fs::copy(starting_point(exercise), &working).map_err(|error| error.to_string())?;
    let _ = fs::remove_file(target_dir().join("exercises/hints").join(exercise.id));
    println!(
        "{} is back at its starting point; your version is in {}",
        relative(&working),
        relative(&backup)
    );
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// Checks, then waits for the file to be saved, and checks again. Without an
/// exercise named, starts with the first unfinished one and moves on when done.
fn watch(chosen: Option<&'static Exercise>) -> Result<(), String> {
    let next_unfinished = || {
        EXERCISES
            .iter()
            .find(|exercise| !evaluate(exercise, exercise.id, false).is_done())
    };
    let Some(mut current) = chosen.or_else(next_unfinished) else {
        println!("Every exercise is done.");
        return Ok(());
    };
    loop {
        let seen = modified(&working_copy(current));
        println!("\n==== {} ====", current.id);
        if check(current) && chosen.is_none() {
            match next_unfinished() {
                Some(next) => {
                    current = next;
                    continue;
                }
                None => {
                    println!("Every exercise is done.");
                    return Ok(());
                }
            }
        }
        println!(
            "(watching {}: save it to check again; Ctrl-C to stop)",
            relative(&working_copy(current))
        );
        while modified(&working_copy(current)) == seen {
            thread::sleep(Duration::from_millis(300));
        }
    }
}

/// `its check fails`, or `2 of 3 checks fail`.
fn failing(report: &Report) -> String {
    match report.results.len() {
        1 => "its check fails".to_string(),
        total => format!("{} of {total} checks fail", report.failed()),
    }
}

/// How many exercises `list` and `verify` check at once: each runs its own server.
const IN_PARALLEL: usize = 3;

/// One build of every exercise first, so the checks that follow do not queue
/// for Cargo's lock. A working copy that does not compile is not an error here:
/// its own evaluation says so.
fn build_every_exercise() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["build", "--quiet", "-p", "exercises", "--bins"])
        .current_dir(workspace())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|error| format!("cannot run cargo: {error}"))
}

fn verify(pristine: bool) -> Result<(), String> {
    build_every_exercise()?;
    let evaluations = in_parallel(EXERCISES, IN_PARALLEL, |exercise| {
        let start = evaluate(exercise, &format!("start-{}", exercise.id), true);
        let solution = evaluate(exercise, &format!("solution-{}", exercise.id), true);
        (start, solution)
    });
    let mut problems = Vec::new();
    for (exercise, (start, solution)) in EXERCISES.iter().zip(evaluations) {
        let start_text = match &start {
            Evaluation::Checked { own, stage }
                if !own.all_passed() && stage.as_ref().is_none_or(Report::all_passed) =>
            {
                format!("start: {}", failing(own))
            }
            Evaluation::Checked { own, .. } if own.all_passed() => {
                problems.push(format!(
                    "{}: the starting point already passes its checks",
                    exercise.id
                ));
                "start PASSES (it must not)".into()
            }
            other => {
                problems.push(format!(
                    "{}: the starting point is broken: {}",
                    exercise.id,
                    describe(other)
                ));
                "start BROKEN".into()
            }
        };
        let solution_text = if solution.is_done() {
            "solution passes".to_string()
        } else {
            problems.push(format!(
                "{}: the solution does not pass: {}",
                exercise.id,
                describe(&solution)
            ));
            "solution FAILS".to_string()
        };
        if pristine {
            let same =
                fs::read(working_copy(exercise)).ok() == fs::read(starting_point(exercise)).ok();
            if !same {
                problems.push(format!(
                    "{}: the working copy is not its starting point",
                    exercise.id
                ));
            }
        }
        println!("{:26} {start_text:34} {solution_text}", exercise.id);
    }
    if problems.is_empty() {
        println!("all {} exercises verified", EXERCISES.len());
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Every exercise as a Markdown table: chapter, id, what it asks, its checks,
/// and about how long it takes. The teachers' page includes it.
fn table() -> String {
    let mut text = String::from(
        "<!-- Written by `scripts/exercise table`; scripts/test checks it is current. -->\n\n\
         | chapter | exercise | what the student builds | checked by | minutes |\n\
         |---:|---|---|---|---:|\n",
    );
    for exercise in EXERCISES {
        let checks: Vec<String> = exercise
            .checks
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
        text.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            exercise.chapter,
            exercise.id,
            squeeze(exercise.goal),
            checks.join(", "),
            exercise.minutes
        ));
    }
    let total: u32 = EXERCISES.iter().map(|exercise| exercise.minutes).sum();
    text.push_str(&format!(
        "\n{} exercises, about {} hours in all.\n",
        EXERCISES.len(),
        (total + 30) / 60
    ));
    text
}

/// `work` applied to every item, on up to `threads` threads at once, in order.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..threads.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item);
                    if let Ok(mut results) = results.lock() {
                        results.push((index, result));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

fn describe(evaluation: &Evaluation) -> String {
    match evaluation {
        Evaluation::DoesNotCompile(errors) => format!("does not compile:\n{errors}"),
        Evaluation::DidNotStart(why) => format!("did not start: {why}"),
        Evaluation::Checked { own, stage } => {
            let mut failed: Vec<&str> = own.failures();
            if let Some(stage) = stage {
                failed.extend(stage.failures());
            }
            format!("failed {}", failed.join(", "))
        }
    }
}

/// The text of a hint or goal without the runs of spaces that line breaks in the
/// source leave behind.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
