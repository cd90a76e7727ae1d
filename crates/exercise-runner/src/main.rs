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
    };
    let needs_working_copies = !matches!(command, "table" | "help" | "--help" | "-h");
    if needs_working_copies {
        if let Err(message) = make_missing_working_copies() {
            eprintln!("exercise: {message}");
            return ExitCode::FAILURE;
        }
    }
    let result = match command {
        "list" => list(flag("--json")),
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
        "verify" => verify(flag("--pristine"), id),
        "table" => table().map(|text| print!("{text}")),
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

/// Every exercise, in the order of the book.
fn all() -> Result<&'static [Exercise], String> {
    exercises::all()
}

/// The exercise called `id`.
fn find(id: &str) -> Result<&'static Exercise, String> {
    all()?
        .iter()
        .find(|exercise| exercise.name == id)
        .ok_or_else(|| format!("no exercise called {id:?}; `scripts/exercise list` shows them"))
}

/// The student's file. It is not in git (`src/bin/` is ignored): the runner
/// makes it from the starting point the first time it is needed.
fn working_copy(exercise: &Exercise) -> PathBuf {
    workspace()
        .join("crates/exercises/src/bin")
        .join(format!("{}.rs", exercise.name))
}

fn starting_point(exercise: &Exercise) -> PathBuf {
    workspace()
        .join("crates/exercises/start")
        .join(format!("{}.rs", exercise.name))
}

/// Makes the working copy of every exercise that has none yet, from its
/// starting point, so that each is a binary Cargo can build. A working copy
/// that exists is the student's and is never touched.
fn make_missing_working_copies() -> Result<(), String> {
    for exercise in all()? {
        let working = working_copy(exercise);
        if working.exists() {
            continue;
        }
        if let Some(folder) = working.parent() {
            fs::create_dir_all(folder).map_err(|error| error.to_string())?;
        }
        fs::copy(starting_point(exercise), &working)
            .map_err(|error| format!("cannot make {}: {error}", relative(&working)))?;
    }
    Ok(())
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

/// How much of an exercise's server to look at.
#[derive(Clone, Copy)]
enum Scope {
    /// The exercise's own checks, the server's stderr hidden: for `list`.
    OwnChecks,
    /// Its stage's checks too, the stderr hidden: for `verify`.
    WithStage,
    /// Its stage's checks too, and what the server says on stderr (a panic, say)
    /// shown: for the student's `check`.
    WithStageAndStderr,
}

/// Builds `binary` (a working copy, `start-ID` or `solution-ID`) and runs the
/// exercise's checks against it, and its stage's checks too if `scope` says so.
fn evaluate(exercise: &Exercise, binary: &str, scope: Scope) -> Evaluation {
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
    let arguments: Vec<&str> = exercise.arguments.iter().map(String::as_str).collect();
    let stderr = match scope {
        Scope::WithStageAndStderr => Stdio::inherit(),
        Scope::OwnChecks | Scope::WithStage => Stdio::null(),
    };
    let started = ServerProcess::start_with_stderr(&program.to_string_lossy(), &arguments, stderr);
    let server = match started {
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
    let with_stage = !matches!(scope, Scope::OwnChecks);
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

/// Every exercise and whether it is done: a table, or with `json` a JSON array.
/// Progress goes to stderr while the servers are checked, so the output on
/// stdout stays the list alone.
fn list(json: bool) -> Result<(), String> {
    let exercises = all()?;
    eprintln!("building the {} exercises...", exercises.len());
    build_every_exercise()?;
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let evaluations = in_parallel(exercises, IN_PARALLEL, |exercise| {
        let evaluation = evaluate(exercise, &exercise.name, Scope::OwnChecks);
        let count = checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        eprintln!("checked {count} of {}: {}", exercises.len(), exercise.name);
        evaluation
    });
    if json {
        let states: Vec<ListedState> = exercises
            .iter()
            .zip(&evaluations)
            .map(|(exercise, evaluation)| ListedState::of(exercise, evaluation))
            .collect();
        let text = serde_json::to_string_pretty(&states).map_err(|error| error.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let mut done = 0;
    for (exercise, evaluation) in exercises.iter().zip(&evaluations) {
        done += usize::from(evaluation.is_done());
        println!(
            "{:26} ch. {}  {:38} {}",
            exercise.name,
            exercise.chapter,
            exercise.title,
            evaluation.status()
        );
    }
    println!("{done} of {} exercises done", exercises.len());
    Ok(())
}

/// One exercise in `list --json`.
#[derive(serde::Serialize)]
struct ListedState<'a> {
    name: &'a str,
    chapter: u8,
    /// "done" or "todo"; an exercise that does not build or start is to do.
    state: &'static str,
    /// The exercise's own checks that fail; none when it is done. A server that
    /// does not build or start fails them all.
    failing_checks: Vec<&'a str>,
}

impl<'a> ListedState<'a> {
    fn of(exercise: &'a Exercise, evaluation: &Evaluation) -> ListedState<'a> {
        let failing_checks = match evaluation {
            Evaluation::Checked { own, .. } => own.failures(),
            Evaluation::DoesNotCompile(_) | Evaluation::DidNotStart(_) => {
                exercise.checks.iter().map(String::as_str).collect()
            }
        };
        ListedState {
            name: &exercise.name,
            chapter: exercise.chapter,
            state: if evaluation.is_done() { "done" } else { "todo" },
            failing_checks,
        }
    }
}

fn show(exercise: &Exercise) {
    println!(
        "{} (chapter {}): {}",
        exercise.name, exercise.chapter, exercise.title
    );
    println!("goal:  {}", squeeze(&exercise.goal));
    println!("edit:  {}", relative(&working_copy(exercise)));
    println!("check: scripts/exercise check {}", exercise.name);
}

/// Prints what the checks found; true when the exercise is done.
fn check(exercise: &Exercise) -> bool {
    show(exercise);
    println!();
    let evaluation = evaluate(exercise, &exercise.name, Scope::WithStageAndStderr);
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
        println!("Done: {} passes every check.", exercise.name);
    } else {
        println!(
            "Not done yet. A hint: scripts/exercise hint {}",
            exercise.name
        );
    }
    evaluation.is_done()
}

fn hint(exercise: &Exercise, all: bool) -> Result<(), String> {
    let state = target_dir().join("exercises/hints").join(&exercise.name);
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
        .join(format!("{}-{stamp}.rs", exercise.name));
    if let Some(folder) = backup.parent() {
        fs::create_dir_all(folder).map_err(|error| error.to_string())?;
    }
    if working.exists() {
        fs::copy(&working, &backup)
            .map_err(|error| format!("cannot keep your version: {error}"))?;
    }
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
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// Checks, then waits for the file to be saved, and checks again. Without an
/// exercise named, starts with the first unfinished one and moves on when done.
fn watch(chosen: Option<&'static Exercise>) -> Result<(), String> {
    let exercises = all()?;
    let next_unfinished = || {
        exercises
            .iter()
            .find(|exercise| !evaluate(exercise, &exercise.name, Scope::OwnChecks).is_done())
    };
    let Some(mut current) = chosen.or_else(next_unfinished) else {
        println!("Every exercise is done.");
        return Ok(());
    };
    loop {
        let seen = modified(&working_copy(current));
        println!("\n==== {} ====", current.name);
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

/// Every exercise, or only the one called `only`: its starting point fails its
/// checks and its solution passes them.
fn verify(pristine: bool, only: Option<&str>) -> Result<(), String> {
    let exercises = match only {
        Some(id) => std::slice::from_ref(find(id)?),
        None => all()?,
    };
    build_every_exercise()?;
    let evaluations = in_parallel(exercises, IN_PARALLEL, |exercise| {
        let start = evaluate(
            exercise,
            &format!("start-{}", exercise.name),
            Scope::WithStage,
        );
        let solution = evaluate(
            exercise,
            &format!("solution-{}", exercise.name),
            Scope::WithStage,
        );
        (start, solution)
    });
    let mut problems = Vec::new();
    for (exercise, (start, solution)) in exercises.iter().zip(evaluations) {
        let start_text = match &start {
            Evaluation::Checked { own, stage }
                if !own.all_passed() && stage.as_ref().is_none_or(Report::all_passed) =>
            {
                format!("start: {}", failing(own))
            }
            Evaluation::Checked { own, .. } if own.all_passed() => {
                problems.push(format!(
                    "{}: the starting point already passes its checks",
                    exercise.name
                ));
                "start PASSES (it must not)".into()
            }
            other => {
                problems.push(format!(
                    "{}: the starting point is broken: {}",
                    exercise.name,
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
                exercise.name,
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
                    exercise.name
                ));
            }
        }
        println!("{:26} {start_text:34} {solution_text}", exercise.name);
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
    let exercises = all()?;
    let mut text = String::from(
        "<!-- Written by `scripts/exercise table`; scripts/test checks it is current. -->\n\n\
         | chapter | exercise | what the student builds | checked by | minutes |\n\
         |---:|---|---|---|---:|\n",
    );
    for exercise in exercises {
        let checks: Vec<String> = exercise
            .checks
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
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
    text.push_str(&format!(
        "\n{} exercises, about {} hours in all.\n",
        exercises.len(),
        (total + 30) / 60
    ));
    Ok(text)
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
