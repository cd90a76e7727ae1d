//! Some exercises change a stage's loop itself, so their starting point is a
//! copy of the stage's code. Such a copy marks what is the exercise's own:
//!
//! ```text
//! // EXERCISE: BEGIN
//! ... lines that differ from the stage: the exercise's options, its stub ...
//! // EXERCISE: END
//! ```
//!
//! Every other line must be the stage's, in the stage's order: each run of
//! lines between two marked regions appears, unbroken, in the stage's files,
//! after the run before it. Lines are compared trimmed, blank lines left out, so
//! `cargo fmt` indenting a line differently is no drift; a changed, added or
//! removed line of code is. A marked region may stand for any part of the stage
//! (or none), which is how the copy leaves out what the exercise replaces.

pub const BEGIN: &str = "// EXERCISE: BEGIN";
pub const END: &str = "// EXERCISE: END";

/// A line of a copy that is compared: its number in the file (from 1) and its
/// text, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    number: usize,
    text: String,
}

/// The lines that count, in order: trimmed, blank lines left out.
fn normalised(text: &str) -> Vec<Line> {
    text.lines()
        .enumerate()
        .map(|(index, line)| Line {
            number: index + 1,
            text: line.trim().to_string(),
        })
        .filter(|line| !line.text.is_empty())
        .collect()
}

/// The runs of lines outside the marked regions.
fn unmarked_runs(copy: &str) -> Result<Vec<Vec<Line>>, String> {
    let mut runs = vec![Vec::new()];
    let mut inside: Option<usize> = None;
    for line in normalised(copy) {
        match (line.text.as_str(), inside) {
            (BEGIN, None) => inside = Some(line.number),
            (BEGIN, Some(open)) => {
                return Err(format!(
                    "line {}: {BEGIN} inside the region opened on line {open}",
                    line.number
                ));
            }
            (END, Some(_)) => {
                inside = None;
                runs.push(Vec::new());
            }
            (END, None) => return Err(format!("line {}: {END} without {BEGIN}", line.number)),
            (_, Some(_)) => {}
            (_, None) => {
                if let Some(run) = runs.last_mut() {
                    run.push(line);
                }
            }
        }
    }
    if let Some(open) = inside {
        return Err(format!("the region opened on line {open} never ends"));
    }
    runs.retain(|run| !run.is_empty());
    Ok(runs)
}

/// Whether `copy`, outside its marked regions, is `stage` (the stage's files,
/// one after the other). An error names the first line of the copy that is not
/// the stage's.
pub fn compare(copy: &str, stage: &str) -> Result<(), String> {
    let stage: Vec<String> = normalised(stage)
        .into_iter()
        .map(|line| line.text)
        .collect();
    let runs = unmarked_runs(copy)?;
    if runs.is_empty() {
        return Err(format!(
            "nothing outside {BEGIN} ... {END}: it copies nothing"
        ));
    }
    let mut from = 0;
    for run in runs {
        let texts: Vec<&str> = run.iter().map(|line| line.text.as_str()).collect();
        match find_run(&stage[from..], &texts) {
            Ok(at) => from += at + texts.len(),
            Err(matched) => {
                let line = &run[matched];
                return Err(format!(
                    "line {}, `{}`, is not the stage's (the {} line(s) before it are); \
                     change the stage and the copy together, or mark it as the exercise's",
                    line.number, line.text, matched
                ));
            }
        }
    }
    Ok(())
}

/// Where `run` starts in `stage`, unbroken; else how many of its first lines
/// match at the best place, so the error can point at the first that does not.
fn find_run(stage: &[String], run: &[&str]) -> Result<usize, usize> {
    let mut best = 0;
    for start in 0..stage.len() {
        let matched = stage[start..]
            .iter()
            .zip(run)
            .take_while(|(stage_line, run_line)| stage_line == *run_line)
            .count();
        if matched == run.len() {
            return Ok(start);
        }
        best = best.max(matched);
    }
    Err(best)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const STAGE: &str =
        "fn main() {\n    let a = 1;\n    serve(a);\n}\n\nfn serve(a: u8) {\n    let _ = a;\n}\n";

    #[test]
    fn a_copy_with_a_marked_change_matches() {
        let copy = "fn main() {\n  let a = 1;\n    // EXERCISE: BEGIN\n    let b = 2;\n    // EXERCISE: END\n    serve(a);\n}\nfn serve(a: u8) {\n    let _ = a;\n}\n";
        assert_eq!(compare(copy, STAGE), Ok(()));
    }

    #[test]
    fn a_marked_region_may_stand_for_stage_lines_it_replaces() {
        let copy =
            "fn main() {\n// EXERCISE: BEGIN\n    let a = 9;\n// EXERCISE: END\n    serve(a);\n}\n";
        assert_eq!(compare(copy, STAGE), Ok(()));
    }

    #[test]
    fn an_unmarked_change_is_drift() {
        let copy = "fn main() {\n    let a = 2;\n    serve(a);\n}\n";
        let error = compare(copy, STAGE).unwrap_err();
        assert!(error.starts_with("line 2, `let a = 2;`"), "{error}");
    }

    #[test]
    fn lines_out_of_the_stage_order_are_drift() {
        let copy = "fn serve(a: u8) {\n// EXERCISE: BEGIN\n// EXERCISE: END\nfn main() {\n";
        assert!(compare(copy, STAGE).is_err());
    }

    #[test]
    fn unbalanced_markers_are_refused() {
        assert!(compare("// EXERCISE: BEGIN\nfn main() {\n", STAGE).is_err());
        assert!(compare("fn main() {\n// EXERCISE: END\n", STAGE).is_err());
    }
}
