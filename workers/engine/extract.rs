//! `salesbot extract`: batch lead extraction over JSON Lines.
//!
//! Input is one conversation per line in the eval format (`{"id", "turns": [{"role",
//! "text"}], …}`; `expected`, `language` and other keys are ignored). Output is one line per
//! good conversation: `{"id", "lead": {name, phone, city, object_type, area_m2, qualified}}`
//! with nulls for missing fields. A bad line is reported on `err` with its 1-based line number
//! and the run goes on; blank lines are skipped.
//!
//! It is built for throughput: lines are read as bytes into one reused buffer (no UTF-8
//! re-validation pass before serde), output goes through a `BufWriter`, and every finder's
//! tables and regexes are compiled once.

use std::io::{self, BufRead, BufWriter, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Turn, extract_lead};

#[derive(Deserialize)]
struct InputLine {
    id: Value,
    turns: Vec<Turn>,
}

#[derive(Serialize)]
struct OutputLine<'a> {
    id: &'a Value,
    lead: OutputLead<'a>,
}

#[derive(Serialize)]
struct OutputLead<'a> {
    name: Option<&'a str>,
    phone: Option<&'a str>,
    city: Option<&'static str>,
    object_type: Option<&'static str>,
    area_m2: Option<f64>,
    qualified: bool,
}

/// Runs the extraction over `input`, writing predictions to `out` and problems to `err`.
/// Returns `Ok(false)` when at least one line was bad; `Err` only for I/O failures.
pub fn run(mut input: impl BufRead, out: impl Write, mut err: impl Write) -> io::Result<bool> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut line_no = 0usize;
    let mut all_good = true;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: InputLine = match serde_json::from_slice(&buf) {
            Ok(p) => p,
            Err(e) => {
                all_good = false;
                writeln!(err, "line {line_no}: bad conversation: {e}")?;
                continue;
            }
        };
        if !(parsed.id.is_string() || parsed.id.is_number()) {
            all_good = false;
            writeln!(
                err,
                "line {line_no}: bad conversation: \"id\" must be a string or a number"
            )?;
            continue;
        }
        let lead = extract_lead(&parsed.turns);
        let line = OutputLine {
            id: &parsed.id,
            lead: OutputLead {
                name: lead.name.as_deref(),
                phone: lead.phone.as_ref().map(|p| p.as_str()),
                city: lead.city.map(|c| c.as_str()),
                object_type: lead.object_type.map(|o| o.as_str()),
                area_m2: lead.area_m2,
                qualified: lead.qualified(),
            },
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(all_good)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(input: &str) -> (bool, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let ok = run(input.as_bytes(), &mut out, &mut err).unwrap();
        (
            ok,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn writes_one_line_per_conversation() {
        let input = r#"{"id":"a","language":"ru","turns":[{"role":"user","text":"Баня 6х6 в Алматы, Max, +7 707 234 11 90"}],"expected":{}}
{"id":"b","turns":[{"role":"user","text":"привет"}]}
"#;
        let (ok, out, err) = run_str(input);
        assert!(ok, "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "a");
        assert_eq!(lines[0]["lead"]["city"], "almaty");
        assert_eq!(lines[0]["lead"]["object_type"], "bathhouse");
        assert_eq!(lines[0]["lead"]["area_m2"], 36.0);
        assert_eq!(lines[0]["lead"]["phone"], "+77072341190");
        assert_eq!(lines[0]["lead"]["qualified"], true);
        assert!(lines[1]["lead"]["name"].is_null());
        assert_eq!(lines[1]["lead"]["qualified"], false);
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let input = "{\"id\":\"a\",\"turns\":[]}\n\nnot json\n{\"turns\":[]}\n{\"id\":\"d\"}\n{\"id\":null,\"turns\":[]}\n{\"id\":7,\"turns\":[]}\n";
        let (ok, out, err) = run_str(input);
        assert!(!ok);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(err.contains("line 3:"), "{err}");
        assert!(err.contains("line 4:") && err.contains("id"), "{err}");
        assert!(err.contains("line 5:") && err.contains("turns"), "{err}");
        assert!(err.contains("line 6:"), "{err}");
        assert!(!err.contains("line 2:"));
    }

    #[test]
    fn invalid_utf8_is_a_bad_line_not_a_crash() {
        let mut input =
            b"{\"id\":\"x\",\"turns\":[{\"role\":\"user\",\"text\":\"\xff\"}]}\n".to_vec();
        input.extend_from_slice(b"{\"id\":\"y\",\"turns\":[]}\n");
        let mut out = Vec::new();
        let mut err = Vec::new();
        let ok = run(&input[..], &mut out, &mut err).unwrap();
        assert!(!ok);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    }
}
