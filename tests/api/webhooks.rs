//! Outbound webhooks: our signatures verify with the Standard Webhooks reference library (Python,
//! `standardwebhooks` from PyPI), and a tampered body or a wrong secret does not.

use std::io::Write;
use std::process::{Command, Stdio};

use salesbot::domain::webhook::{SigningSecret, signature_header};
use serde_json::{Value, json};

use crate::helpers::venv_tool;

/// Each case is verified by the reference library; it prints one line per case: "ok" or the
/// verification error's class.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
for case in json.load(sys.stdin):
    headers = {"webhook-id": case["id"], "webhook-timestamp": str(case["timestamp"]),
               "webhook-signature": case["signature"]}
    try:
        Webhook(case["secret"]).verify(case["body"].encode(), headers)
        print("ok")
    except Exception as error:
        print(type(error).__name__)
"#;

fn verify_with_reference_library(cases: &Value) -> Vec<String> {
    let mut child = Command::new(venv_tool("python"))
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn signatures_verify_with_the_standard_webhooks_reference_library() {
    let (current, previous, stranger) = (
        SigningSecret::generate(),
        SigningSecret::generate(),
        SigningSecret::generate(),
    );
    // The library refuses timestamps more than five minutes away from its clock.
    let now = chrono::Utc::now().timestamp();
    let id = "msg_01J9Z3Q2WZ8Y7X6V5T4S3R2Q1P";
    let body =
        r#"{"type":"reply.created","data":{"text":"Здравствуйте! Дом 120 м² — хороший выбор."}}"#;
    let signed_by =
        |secrets: &[&SigningSecret]| signature_header(secrets, id, now, body.as_bytes());
    let case = |secret: &SigningSecret, body: &str, signature: String| {
        json!({"secret": secret.expose(), "id": id, "timestamp": now, "body": body,
               "signature": signature})
    };
    let cases = json!([
        // The current secret's signature.
        case(&current, body, signed_by(&[&current])),
        // During a rotation both signatures travel: a receiver holding either secret verifies.
        case(&current, body, signed_by(&[&current, &previous])),
        case(&previous, body, signed_by(&[&current, &previous])),
        // A body changed on the way, and a receiver with another secret, fail.
        case(
            &current,
            &body.replace("120", "220"),
            signed_by(&[&current])
        ),
        case(&stranger, body, signed_by(&[&current, &previous])),
    ]);
    assert_eq!(
        verify_with_reference_library(&cases),
        [
            "ok",
            "ok",
            "ok",
            "WebhookVerificationError",
            "WebhookVerificationError"
        ]
    );
}
