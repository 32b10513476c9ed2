//! What profiling found behind a missed goal. These notes come from profiling sessions (perf,
//! callgrind) written down by hand; a run includes the note of each goal it missed.

use crate::report::Section;

/// (prefix of a goal's name, what dominates).
const NOTES: &[(&str, &str)] = &[];

/// The notes of the goals missed in `sections`, as markdown.
pub fn for_missed(sections: &[Section]) -> String {
    let mut out = String::new();
    for goal in sections.iter().flat_map(|s| &s.goals) {
        if goal.met != Some(false) {
            continue;
        }
        let note = NOTES
            .iter()
            .find(|(prefix, _)| goal.name.starts_with(prefix))
            .map_or("not profiled yet.", |(_, note)| note);
        out.push_str(&format!("- **{}** ({}, goal {}): {note}\n", goal.name, goal.figure, goal.target));
    }
    out
}
