//! `scripts/exercise`: the runner for the exercises at the ends of the chapters.
//!
//! Each exercise is a small server in `crates/exercises/src/bin/ID.rs` that the
//! student grows, made from its starting point `crates/exercises/start/ID.rs` the
//! first time the runner needs it. The runner builds it, starts it on a free port
//! with a private copy of the site, and runs the checker: the exercise's own
//! checks, and the checks of its chapter's stage, so nothing that worked may break.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use checker::checks::Check;
use checker::{Outcome, Report};
use exercise_runner::checks;
use exercise_runner::exercises::{self, Exercise};
use harness::ServerProcess;

const USAGE: &str = "\
exercise: check your work on the course's exercises

Usage: scripts/exercise COMMAND [ID]

Commands:
  list          every exercise, and whether it is done (--json: as JSON)
  show ID       what the exercise asks for, and the file to edit
  check ID      build the exercise, run its checks and its stage's checks
  hint ID       the next hint (--all for every hint at once)
  watch [ID]    check again whenever the file is saved; without an ID, go from
                one unfinished exercise to the next
  reset ID      put the starting code back (your version is kept in target/)
  verify [ID]   for teachers and CI: every starting point fails its checks and
                every reference solution passes them
  table         every exercise as a Markdown table, for the teachers' page
";

/// Where `check` tells the student to run their own server, to replay what a
/// check sent: the `sent:` lines it prints name this address.
const REPLAY_ADDR: &str = "127.0.0.1:7900";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = arguments.first().map_or("help", String::as_str);
    let id = arguments.get(1).filter(|text| !text.starts_with("--"));
    let flag = |name: &str| arguments.iter().any(|argument| argument == name);
    let exercise = || {
        let id = id.ok_or(format!(
            "`{command}` needs an exercise ID; `scripts/exercise list` shows them"
        ))?;
        find(id)
    };
    if matches!(command, "help" | "--help" | "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = make_missing_working_copies().and_then(|()| match command {
        "list" => list(flag("--json")),
        "show" => exercise().map(show),
        // A failed check has said why already: an error with no message.
        "check" => {
            exercise().and_then(|exercise| check(exercise).then_some(()).ok_or_else(String::new))
        }
        "hint" => exercise().and_then(|exercise| hint(exercise, flag("--all"))),
        "watch" => id.map(|_| exercise()).transpose().and_then(watch),
        "reset" => exercise().and_then(reset),
        "verify" => verify(id.map(String::as_str)),
        "table" => table().map(|text| print!("{text}")),
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    });
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

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace()).unwrap_or(path).display().to_string()
}

fn find(id: &str) -> Result<&'static Exercise, String> {
    exercises::all()?
        .iter()
        .find(|exercise| exercise.name == id)
        .ok_or_else(|| format!("no exercise called {id:?}; `scripts/exercise list` shows them"))
}

/// The student's file. It is not in git (`src/bin/` is ignored): the runner
/// makes it from the starting point the first time it is needed.
fn working_copy(exercise: &Exercise) -> PathBuf {
    workspace().join(format!("crates/exercises/src/bin/{}.rs", exercise.name))
}

fn starting_point(exercise: &Exercise) -> PathBuf {
    workspace().join(format!("crates/exercises/start/{}.rs", exercise.name))
}

/// Makes the working copy of every exercise that has none yet, so that each is
/// a binary Cargo can build. A working copy that exists is the student's and is
/// never touched.
fn make_missing_working_copies() -> Result<(), String> {
    for exercise in exercises::all()? {
        let working = working_copy(exercise);
        if !working.exists() {
            let made = fs::create_dir_all(workspace().join("crates/exercises/src/bin"))
                .and_then(|()| fs::copy(starting_point(exercise), &working));
            made.map_err(|error| format!("cannot make {}: {error}", relative(&working)))?;
        }
    }
    Ok(())
}

/// What happened when an exercise's server was built and checked.
enum Evaluation {
    DoesNotCompile(String),
    DidNotStart(String),
    /// Checked at `addr`, a server stopped since.
    Checked {
        own: Report,
        stage: Option<Report>,
        addr: String,
    },
}

impl Evaluation {
    fn is_done(&self) -> bool {
        self.own_passed() == Some(true) && self.stage_intact()
    }

    /// Whether the exercise's own checks passed, if they ran.
    fn own_passed(&self) -> Option<bool> {
        match self {
            Evaluation::Checked { own, .. } => Some(own.all_passed()),
            _ => None,
        }
    }

    /// Whether every check of the stage that ran still passes.
    fn stage_intact(&self) -> bool {
        match self {
            Evaluation::Checked { stage, .. } => stage.as_ref().is_none_or(Report::all_passed),
            _ => false,
        }
    }

    /// A few words for `list`, or for `verify` when it went wrong.
    fn status(&self) -> String {
        match self {
            Evaluation::DoesNotCompile(errors) => format!("does not compile\n{errors}"),
            Evaluation::DidNotStart(why) => format!("does not start: {why}"),
            Evaluation::Checked { own, .. } if own.all_passed() => "done".into(),
            Evaluation::Checked { own, .. } if own.results.len() == 1 => {
                "to do: its check fails".into()
            }
            Evaluation::Checked { own, .. } => {
                format!("to do: {} of {} checks fail", own.failed(), own.results.len())
            }
        }
    }

    /// The checks that failed, the stage's included.
    fn failures(&self) -> Vec<&'static str> {
        match self {
            Evaluation::Checked { own, stage, .. } => {
                let stage = stage.iter().flat_map(Report::failures);
                own.failures().into_iter().chain(stage).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Who looks at an evaluation.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// `list`: the exercise's own checks, the server's stderr hidden.
    List,
    /// `verify`: its stage's checks too, the stderr hidden.
    Verify,
    /// The student's `check`: its stage's checks too, what the server says on
    /// stderr (a panic, say) shown, and the site it served kept, so that what
    /// a check sent can be sent again.
    Student,
}

fn cargo_build(binaries: &[&str]) -> Result<std::process::Output, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["build", "--quiet", "--message-format", "short", "-p", "exercises"])
        .args(binaries)
        .current_dir(workspace())
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))
}

/// The site a student's `check` serves, kept afterwards (with the files the
/// checks planted) for replaying a `sent:` line.
fn replay_site() -> PathBuf {
    target_dir().join("exercises/site")
}

/// Starts the built `binary` for `scope` on a free port.
fn start(exercise: &Exercise, binary: &str, scope: Scope) -> std::io::Result<ServerProcess> {
    let program = target_dir().join("debug").join(binary);
    let program = program.to_string_lossy();
    let arguments: Vec<&str> = exercise.arguments.iter().map(String::as_str).collect();
    if scope != Scope::Student {
        return ServerProcess::start_with_stderr(&program, &arguments, Stdio::null());
    }
    let site = replay_site();
    let _ = fs::remove_dir_all(&site);
    harness::copy_folder(&checker::target::default_root(), &site)?;
    checker::target::keep_planted_files();
    let root = site.to_string_lossy();
    let mut command = Command::new(&*program);
    command.args(["--addr", "127.0.0.1:0", "--root", &root, "--quiet"]).args(arguments);
    ServerProcess::start_raw(&mut command)
}

/// Builds `binary` (a working copy, `start-ID` or `solution-ID`) and runs the
/// exercise's checks against it, and its stage's checks too unless `list` asks.
fn evaluate(exercise: &Exercise, binary: &str, scope: Scope) -> Evaluation {
    match cargo_build(&["--bin", binary]) {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            return Evaluation::DoesNotCompile(String::from_utf8_lossy(&output.stderr).into());
        }
        Err(error) => return Evaluation::DoesNotCompile(error),
    }
    let server = match start(exercise, binary, scope) {
        Ok(server) => server,
        Err(error) => return Evaluation::DidNotStart(error.to_string()),
    };
    let target = server.target();
    let own_checks: Vec<Check> =
        exercise.checks.iter().filter_map(|name| checks::find(name)).collect();
    let own = checker::run_checks(&target, exercise.chapter, &own_checks, |_| {});
    let stage = (scope != Scope::List).then(|| {
        // A server that the exercise's checks left stuck would make each of the
        // stage's checks wait for its own timeout, minutes in all.
        let request =
            format!("GET / HTTP/1.1\r\nHost: {0}\r\nConnection: close\r\n\r\n", target.addr);
        if checker::client::exchange(target.addr, request.as_bytes(), true).is_err() {
            return Ok(no_longer_answers(exercise.chapter));
        }
        let stage_checks = checker::checks_for_stage(exercise.chapter);
        checker::run_checks(&target, exercise.chapter, &stage_checks, |_| {})
    });
    match (own, stage.transpose()) {
        (Ok(own), Ok(stage)) => Evaluation::Checked { own, stage, addr: target.addr.to_string() },
        (Err(error), _) | (_, Err(error)) => {
            Evaluation::DidNotStart(format!("cannot plant the checker's files: {error}"))
        }
    }
}

/// The stage's report when the server no longer answers: one failure that says
/// so, instead of every check failing on its own timeout.
fn no_longer_answers(chapter: u8) -> Report {
    let failure = checker::Failure::new(
        "the server no longer answers GET / at all, so the stage's checks were not run",
        "a server that keeps working, whatever the exercise's checks did to it",
    );
    let behaviour = "after the exercise's checks, the server still answers GET /";
    let outcome = Outcome::Failed(failure);
    Report {
        results: vec![checker::CheckResult {
            name: "still-answers",
            stage: chapter,
            behaviour,
            outcome,
        }],
    }
}

/// How many exercises `list` and `verify` check at once: each runs its own server.
const IN_PARALLEL: usize = 3;

/// One build of every exercise first, so the checks that follow do not queue
/// for Cargo's lock. A working copy that does not compile is not an error here:
/// its own evaluation says so.
fn build_every_exercise() -> Result<(), String> {
    cargo_build(&["--bins"]).map(drop)
}

/// `work` applied to every item, [`IN_PARALLEL`] items at a time, in order.
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut results = Vec::with_capacity(items.len());
    for batch in items.chunks(IN_PARALLEL) {
        thread::scope(|scope| {
            let running: Vec<_> = batch.iter().map(|item| scope.spawn(|| work(item))).collect();
            results.extend(running.into_iter().filter_map(|thread| thread.join().ok()));
        });
    }
    results
}

/// Every exercise and whether it is done: a table, or with `json` a JSON array.
/// Progress goes to stderr, so that stdout holds the list alone.
fn list(json: bool) -> Result<(), String> {
    let exercises = exercises::all()?;
    eprintln!("building the {} exercises...", exercises.len());
    build_every_exercise()?;
    let checked = AtomicUsize::new(0);
    let evaluations = in_parallel(exercises, |exercise| {
        let evaluation = evaluate(exercise, &exercise.name, Scope::List);
        let count = checked.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("checked {count} of {}: {}", exercises.len(), exercise.name);
        evaluation
    });
    let listed = exercises.iter().zip(&evaluations);
    if json {
        let states: Vec<serde_json::Value> = listed
            .map(|(exercise, evaluation)| {
                // A server that does not build or start fails all its checks.
                let failing = match evaluation {
                    Evaluation::Checked { own, .. } => own.failures(),
                    _ => exercise.checks.iter().map(String::as_str).collect(),
                };
                serde_json::json!({
                    "name": exercise.name,
                    "chapter": exercise.chapter,
                    "state": if evaluation.is_done() { "done" } else { "todo" },
                    "failing_checks": failing,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&states).map_err(|error| error.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let mut done = 0;
    for (exercise, evaluation) in listed {
        done += usize::from(evaluation.is_done());
        let status = evaluation.status();
        let status = status.lines().next().unwrap_or_default();
        println!("{:26} ch. {}  {:38} {status}", exercise.name, exercise.chapter, exercise.title);
    }
    println!("{done} of {} exercises done", exercises.len());
    Ok(())
}

fn show(exercise: &Exercise) {
    println!("{} (chapter {}): {}", exercise.name, exercise.chapter, exercise.title);
    println!("goal:  {}", squeeze(&exercise.goal));
    println!("edit:  {}", relative(&working_copy(exercise)));
    println!("check: scripts/exercise check {}", exercise.name);
}

/// The command that runs the student's own server where the `sent:` lines
/// point, serving the files the checks planted.
fn replay_command(exercise: &Exercise) -> String {
    let mut command = format!(
        "cargo run -p exercises --bin {} -- --addr {REPLAY_ADDR} --root {}",
        exercise.name,
        relative(&replay_site())
    );
    for argument in &exercise.arguments {
        command.push(' ');
        command.push_str(argument);
    }
    command
}

/// Prints a report's results, their `sent:` commands pointed at
/// [`REPLAY_ADDR`]: the server the check talked to has stopped by now. True if
/// any failure had a command.
fn print_results<'a>(results: impl Iterator<Item = &'a checker::CheckResult>, addr: &str) -> bool {
    let (ip, port) = addr.split_once(':').unwrap_or_default();
    let (replay_ip, replay_port) = REPLAY_ADDR.split_once(':').unwrap_or_default();
    let mut replayable = false;
    for result in results {
        let mut result = result.clone();
        if let Outcome::Failed(failure) = &mut result.outcome {
            if let Some(sent) = &mut failure.sent {
                replayable = true;
                *sent = sent
                    .replace(addr, REPLAY_ADDR)
                    .replace(&format!("{ip} {port}"), &format!("{replay_ip} {replay_port}"));
            }
        }
        println!("{result}");
    }
    replayable
}

/// Prints what the checks found; true when the exercise is done.
fn check(exercise: &Exercise) -> bool {
    show(exercise);
    println!();
    let evaluation = evaluate(exercise, &exercise.name, Scope::Student);
    let mut replayable = false;
    match &evaluation {
        Evaluation::Checked { own, stage, addr } => {
            replayable |= print_results(own.results.iter(), addr);
            if let Some(stage) = stage {
                let (chapter, total) = (exercise.chapter, stage.results.len());
                if stage.all_passed() {
                    println!("stage {chapter}: all {total} checks still pass");
                } else {
                    let broken = stage.failed();
                    println!(
                        "stage {chapter}: {broken} of {total} checks now FAIL (they passed before):"
                    );
                    let failed = stage
                        .results
                        .iter()
                        .filter(|result| matches!(result.outcome, Outcome::Failed(_)));
                    replayable |= print_results(failed, addr);
                }
            }
        }
        Evaluation::DoesNotCompile(errors) => println!("It does not compile yet:\n\n{errors}"),
        Evaluation::DidNotStart(why) => println!("The server did not start: {why}"),
    }
    println!();
    if replayable {
        println!(
            "To send a `sent:` line again, first run your server where it points, with the \
             files the checks used:\n  {}",
            replay_command(exercise)
        );
    }
    if evaluation.is_done() {
        println!("Done: {} passes every check.", exercise.name);
    } else {
        println!("Not done yet. A hint: scripts/exercise hint {}", exercise.name);
    }
    evaluation.is_done()
}

fn hint(exercise: &Exercise, all: bool) -> Result<(), String> {
    let state = target_dir().join("exercises/hints").join(&exercise.name);
    let shown: usize =
        fs::read_to_string(&state).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0);
    let count = exercise.hints.len();
    let upto = if all { count } else { (shown + 1).min(count) };
    let from = if all { 0 } else { upto - 1 };
    for (index, text) in exercise.hints.iter().enumerate().take(upto).skip(from) {
        println!("hint {} of {count}: {}", index + 1, squeeze(text));
    }
    if !all && shown >= count {
        println!(
            "(that was the last one; the chapter's text and `scripts/exercise check` say the rest)"
        );
    }
    fs::create_dir_all(target_dir().join("exercises/hints"))
        .and_then(|()| fs::write(&state, upto.to_string()))
        .map_err(|error| error.to_string())
}

fn reset(exercise: &Exercise) -> Result<(), String> {
    let working = working_copy(exercise);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let backups = target_dir().join("exercises/backup");
    let backup = backups.join(format!("{}-{stamp}.rs", exercise.name));
    fs::create_dir_all(&backups)
        .and_then(|()| fs::copy(&working, &backup))
        .map_err(|error| format!("cannot keep your version: {error}"))?;
    fs::copy(starting_point(exercise), &working).map_err(|error| error.to_string())?;
    let _ = fs::remove_file(target_dir().join("exercises/hints").join(&exercise.name));
    println!(
        "{} is back at its starting point; your version is in {}",
        relative(&working),
        relative(&backup)
    );
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|metadata| metadata.modified()).ok()
}

/// Checks, then waits for the file to be saved, and checks again. Without an
/// exercise named, starts with the first unfinished one and moves on when done.
fn watch(chosen: Option<&'static Exercise>) -> Result<(), String> {
    let exercises = exercises::all()?;
    let next_unfinished = || {
        exercises.iter().find(|exercise| !evaluate(exercise, &exercise.name, Scope::List).is_done())
    };
    let mut current = chosen.or_else(next_unfinished);
    while let Some(exercise) = current {
        let seen = modified(&working_copy(exercise));
        println!("\n==== {} ====", exercise.name);
        if check(exercise) && chosen.is_none() {
            current = next_unfinished();
            continue;
        }
        println!(
            "(watching {}: save it to check again; Ctrl-C to stop)",
            relative(&working_copy(exercise))
        );
        while modified(&working_copy(exercise)) == seen {
            thread::sleep(Duration::from_millis(300));
        }
    }
    println!("Every exercise is done.");
    Ok(())
}

/// Every exercise, or only the one called `only`: its starting point fails its
/// checks and its solution passes them.
fn verify(only: Option<&str>) -> Result<(), String> {
    let exercises = match only {
        Some(id) => std::slice::from_ref(find(id)?),
        None => exercises::all()?,
    };
    build_every_exercise()?;
    let evaluations = in_parallel(exercises, |exercise| {
        let run =
            |kind: &str| evaluate(exercise, &format!("{kind}-{}", exercise.name), Scope::Verify);
        (run("start"), run("solution"))
    });
    let mut problems = Vec::new();
    for (exercise, (start, solution)) in exercises.iter().zip(evaluations) {
        let name = &exercise.name;
        let start_text = match (start.own_passed(), start.stage_intact()) {
            (Some(false), true) => {
                format!("start: {}", start.status().trim_start_matches("to do: "))
            }
            (Some(true), _) => {
                problems.push(format!("{name}: the starting point already passes its checks"));
                "start PASSES (it must not)".into()
            }
            _ => {
                problems.push(format!(
                    "{name}: the starting point is broken: {} {}",
                    start.status(),
                    start.failures().join(", ")
                ));
                "start BROKEN".into()
            }
        };
        let solution_text = if solution.is_done() {
            "solution passes"
        } else {
            problems.push(format!(
                "{name}: the solution does not pass: {} {}",
                solution.status(),
                solution.failures().join(", ")
            ));
            "solution FAILS"
        };
        println!("{name:26} {start_text:34} {solution_text}");
    }
    if problems.is_empty() {
        println!("all {} exercises verified", exercises.len());
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Every exercise as a Markdown table: chapter, id, what it asks, its checks,
/// and about how long it takes. The teachers' page includes it.
fn table() -> Result<String, String> {
    let exercises = exercises::all()?;
    let mut text = String::from(
        "<!-- Written by `scripts/exercise table`; scripts/test checks it is current. -->\n\n\
         | chapter | exercise | what the student builds | checked by | minutes |\n\
         |---:|---|---|---|---:|\n",
    );
    for exercise in exercises {
        let checks: Vec<String> = exercise.checks.iter().map(|name| format!("`{name}`")).collect();
        text.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            exercise.chapter,
            exercise.name,
            squeeze(&exercise.goal),
            checks.join(", "),
            exercise.minutes
        ));
    }
    let total: u32 = exercises.iter().map(|exercise| exercise.minutes).sum();
    let hours = (total + 30) / 60;
    text.push_str(&format!("\n{} exercises, about {hours} hours in all.\n", exercises.len()));
    Ok(text)
}

/// The text of a hint or goal without the runs of spaces that line breaks in the
/// source leave behind.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
