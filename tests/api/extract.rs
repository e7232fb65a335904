//! `salesbot extract` and the offline engine's quality gate: the dev set must score ≥ 0.95 with the
//! shared scorer (CI runs this, so a regression in the engine fails the build).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::helpers::salesbot_bin;

fn eval_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval")
}

fn extract(input: &[u8]) -> std::process::Output {
    let mut child = Command::new(salesbot_bin())
        .arg("extract")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_dev_set_scores_at_least_0_95() {
    let dev = eval_dir().join("dev.jsonl");
    let out = extract(&std::fs::read(&dev).expect("shared/eval/dev.jsonl next to the repository"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let predictions =
        std::env::temp_dir().join(format!("salesbot-pred-{}.jsonl", std::process::id()));
    std::fs::write(&predictions, &out.stdout).unwrap();
    let scored = Command::new("python3")
        .arg(eval_dir().join("score.py"))
        .arg(&dev)
        .arg(&predictions)
        .args(["--min", "0.95"])
        .output()
        .expect("python3 runs the scorer");
    let report = String::from_utf8_lossy(&scored.stdout);
    eprintln!("{report}");
    assert!(scored.status.success(), "score below 0.95:\n{report}");
    assert!(report.lines().last().unwrap().starts_with("score: "));
}

#[test]
fn bad_lines_are_reported_with_their_number_and_the_run_goes_on() {
    let input = concat!(
        r#"{"id": "a", "turns": [{"role": "user", "text": "Дом в Алматы, 8 701 234 56 78"}]}"#,
        "\n",
        "{not json\n",
        "\n",
        r#"{"id": "b", "turns": [{"role": "user", "text": "Need a garage in Astana"}]}"#,
        "\n",
    );
    let out = extract(input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["lead"]["phone"], "+77012345678");
    assert_eq!(lines[0]["lead"]["city"], "almaty");
    assert_eq!(lines[1]["lead"]["object_type"], "garage");
    assert_eq!(lines[1]["lead"]["qualified"], false);
}
