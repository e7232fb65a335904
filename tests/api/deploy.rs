//! The deploy files hold what they promise, checked here because no Docker engine or Render
//! account runs in the suite: the Dockerfile's build is layered, offline and non-root and uses
//! the pinned toolchain; render.yaml uses only Render's blueprint fields, wires every reference to
//! something it declares, and keeps the worker scrapeable; the Procfile names the three processes.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::venv_tool;

fn read(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The Dockerfile's stages: (its FROM line, its instructions).
fn stages(dockerfile: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    let mut line = String::new();
    for raw in dockerfile.lines() {
        let raw = raw.trim();
        if raw.starts_with('#') || raw.is_empty() {
            continue;
        }
        line.push_str(raw.trim_end_matches('\\'));
        line.push(' ');
        if raw.ends_with('\\') {
            continue;
        }
        let instruction = std::mem::take(&mut line).trim().to_owned();
        if instruction.starts_with("FROM ") {
            stages.push((instruction, Vec::new()));
        } else {
            stages
                .last_mut()
                .expect("FROM comes first")
                .1
                .push(instruction);
        }
    }
    stages
}

#[test]
fn the_dockerfile_builds_offline_in_layers_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let stages = stages(&dockerfile);
    assert!(stages.len() >= 3, "planner, builder and runtime stages");
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        stages[0].0.contains(&format!("rust:{channel}-")),
        "the builder uses the pinned toolchain {channel}: {}",
        stages[0].0
    );

    let (_, builder) = stages
        .iter()
        .find(|(from, _)| from.ends_with(" AS builder"))
        .expect("a builder stage");
    let position = |needle: &str| {
        builder
            .iter()
            .position(|i| i.contains(needle))
            .unwrap_or_else(|| panic!("builder: no `{needle}`"))
    };
    // Dependencies first, from the recipe alone; the sources after: a source change reuses the
    // dependency layer.
    assert!(position("cargo chef cook") < position("COPY . ."));
    assert!(position("SQLX_OFFLINE=true") < position("cargo build"));
    assert!(builder[position("cargo build")].contains("--locked"));

    let (from, runtime) = stages.last().unwrap();
    assert!(from.contains("-slim"), "a small runtime image: {from}");
    let runtime_text = runtime.join("\n");
    for tool in ["cargo", "rustc", "build-essential", "gcc"] {
        assert!(
            !runtime_text.contains(tool),
            "no build tools at run time: {tool}"
        );
    }
    let user = runtime
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    assert!(!["root", "0", "0:0"].contains(&user), "non-root: {user}");
    // Render's dockerCommand replaces the command; an ENTRYPOINT would make it `salesbot salesbot …`.
    assert!(!runtime_text.contains("ENTRYPOINT"), "no ENTRYPOINT");
    assert!(
        runtime_text
            .contains("COPY --from=builder /app/target/release/salesbot /usr/local/bin/salesbot")
    );
    assert!(runtime_text.contains("CMD [\"salesbot\", \"serve\""));

    let ignored = read(".dockerignore");
    for path in ["target/", ".git/", ".env"] {
        assert!(ignored.lines().any(|l| l == path), ".dockerignore: {path}");
    }
}

#[test]
fn the_procfile_names_the_release_web_and_worker_processes() {
    let procfile = read("Procfile");
    let process = |name: &str| {
        procfile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("Procfile: no {name}"))
            .to_owned()
    };
    assert_eq!(process("release"), "salesbot migrate");
    assert!(process("web").starts_with("salesbot serve"));
    assert!(process("worker").starts_with("salesbot work"));
}

/// render.yaml against the fields of Render's blueprint specification
/// (https://render.com/docs/blueprint-spec) and the promises the file makes in its comments.
const CHECK_RENDER: &str = r#"
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
problems = []
def check(ok, what):
    if not ok: problems.append(what)

top = {"services", "databases", "envVarGroups", "previews", "projects", "ungrouped"}
check(set(spec) <= top, f"top-level fields {set(spec) - top}")
service_fields = {"type", "name", "runtime", "plan", "region", "repo", "branch", "rootDir",
    "buildCommand", "startCommand", "preDeployCommand", "dockerfilePath", "dockerContext",
    "dockerCommand", "image", "healthCheckPath", "envVars", "numInstances", "scaling", "disk",
    "autoDeploy", "buildFilter", "domains", "headers", "routes", "staticPublishPath",
    "pullRequestPreviewsEnabled", "previews", "maxShutdownDelaySeconds", "ipAllowList",
    "schedule", "registryCredential", "initialDeployHook"}
database_fields = {"name", "plan", "region", "databaseName", "user", "postgresMajorVersion",
    "ipAllowList", "readReplicas", "highAvailability", "previewPlan", "diskSizeGB"}
types = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
runtimes = {"docker", "image", "rust", "node", "python", "ruby", "go", "elixir", "static"}
plans = {"free", "starter", "standard", "pro", "pro plus", "pro max", "pro ultra"}
databases = {d["name"] for d in spec.get("databases", [])}
for d in spec.get("databases", []):
    check(set(d) <= database_fields, f"database {d['name']}: fields {set(d) - database_fields}")
services = {(s["type"], s["name"]): s for s in spec["services"]}
for s in spec["services"]:
    name = s["name"]
    check(set(s) <= service_fields, f"{name}: fields {set(s) - service_fields}")
    check(s["type"] in types, f"{name}: type {s['type']}")
    check(s.get("runtime") in runtimes, f"{name}: runtime {s.get('runtime')}")
    check(s.get("plan") in plans, f"{name}: an explicit plan")
    if s.get("runtime") == "docker":
        check("dockerfilePath" in s, f"{name}: a docker service names its Dockerfile")
    if "preDeployCommand" in s:
        check(s.get("plan") not in (None, "free"), f"{name}: preDeployCommand needs a paid plan")
    for var in s.get("envVars", []):
        sources = {"value", "generateValue", "sync", "fromDatabase", "fromService", "fromGroup"}
        check(set(var) - {"key"} <= sources and len(set(var) & sources) == 1,
              f"{name}: env var {var.get('key')} has one source")
        if "sync" in var:
            check(var["sync"] is False, f"{name}: {var['key']}: sync is false")
        if "fromDatabase" in var:
            check(var["fromDatabase"]["name"] in databases, f"{name}: {var['key']}: no such database")
            check(var["fromDatabase"]["property"] in {"connectionString", "host", "port", "user",
                  "password", "database"}, f"{name}: {var['key']}: database property")
        if "fromService" in var:
            ref = var["fromService"]
            check((ref["type"], ref["name"]) in services, f"{name}: {var['key']}: no such service")
            target = services.get((ref["type"], ref["name"]), {})
            if "envVarKey" in ref:
                keys = {v["key"] for v in target.get("envVars", [])}
                check(ref["envVarKey"] in keys, f"{name}: {var['key']}: {ref['envVarKey']} not set there")

web = [s for s in spec["services"] if s["type"] == "web"]
check(len(web) == 1, "one web service")
web = web[0]
env = lambda s: {v["key"]: v for v in s.get("envVars", [])}
check(web.get("healthCheckPath") == "/ready", "the web service's health check is /ready")
check("migrate" in web.get("preDeployCommand", ""), "the web service's release step migrates")
for key in ["DATABASE_URL", "SECRET_KEY", "PUBLIC_URL", "METRICS_TOKEN"]:
    check(key in env(web), f"web: {key}")
check(env(web)["SECRET_KEY"].get("generateValue") is True, "SECRET_KEY generated")
for key in ["OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "PUBLIC_URL"]:
    check(env(web).get(key, {}).get("sync") is False, f"web: {key} is typed in the dashboard")
workers = [s for s in spec["services"] if "work" in (s.get("dockerCommand") or s.get("startCommand") or "")]
check(len(workers) == 1, "one worker")
worker = workers[0]
check(worker["type"] == "pserv", "the worker is a private service, so Prometheus can reach it")
check("METRICS_ADDR" in env(worker), "the worker serves /metrics on METRICS_ADDR")
check("--no-migrate" in worker.get("dockerCommand", ""), "the worker leaves migrations to the release step")
for key in ["DATABASE_URL", "SECRET_KEY", "METRICS_TOKEN", "PUBLIC_URL"]:
    check(key in env(worker), f"worker: {key}")
print("\n".join(problems) if problems else "ok")
"#;

#[test]
fn render_yaml_uses_renders_blueprint_fields_and_keeps_the_worker_scrapeable() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("render.yaml");
    let out = Command::new(venv_tool("python"))
        .args(["-c", CHECK_RENDER])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}
