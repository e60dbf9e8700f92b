//! The deployment files: `deploy/kubernetes/` (kustomize) rendered by
//! `kubectl kustomize`, every rendered object checked against the
//! Kubernetes API's JSON schemas (`kubernetes-validate --strict`, offline:
//! the schemas ship in the package) and scanned by `checkov`, and the
//! `Dockerfile` scanned by `checkov` too. Each check is also shown a broken
//! copy that it must reject, so a check that stopped checking fails here.
//!
//! The validators come from `deploy/kubernetes/validate/install.sh` (a
//! virtual environment; `.ci/run` runs it), `kubectl` from the machine.
//! Under CI (`CI` set) a missing one fails; elsewhere the test says what it
//! skips and why.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Kubernetes release whose schemas the manifests are checked against.
const KUBERNETES_VERSION: &str = "1.30.0";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where `install.sh` puts the validators (its `venv`, then `bin`).
fn validators_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LD_TOWER_VALIDATORS") {
        return Some(PathBuf::from(dir).join("bin"));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("ld-tower").join("validators").join("bin"))
}

/// `name` from the validators' environment, else from `PATH`; `None`
/// (outside CI) when neither has it.
fn tool(name: &str, what: &str) -> Option<PathBuf> {
    let in_venv = validators_bin()
        .map(|bin| bin.join(name))
        .filter(|p| p.is_file());
    let found = in_venv.or_else(|| {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI has {name} (.ci/run, deploy/kubernetes/validate/install.sh): {what} must be checked there"
        );
        eprintln!(
            "no {name} here (deploy/kubernetes/validate/install.sh installs the validators; \
             kubectl comes with the machine): skipped, {what}"
        );
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubectl kustomize DIR`, which must succeed.
fn render(kubectl: &Path, dir: &str) -> String {
    let out = run(Command::new(kubectl).arg("kustomize").arg(root().join(dir)));
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        text(&out)
    );
    String::from_utf8(out.stdout).expect("kustomize prints UTF-8")
}

/// `text` with `from` replaced by `to`, which must occur.
/// The number after `key` (`replicas: ` or `"expected_workers": `), which
/// must occur once.
fn number_after(text: &str, key: &str) -> u32 {
    let mut found = text.match_indices(key).map(|(at, _)| {
        let digits: String = text[at + key.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u32>().expect("a number after the key")
    });
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no {key:?} in:\n{text}"));
    assert!(found.next().is_none(), "{key:?} more than once in:\n{text}");
    first
}

fn broken(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the manifests no longer hold {from:?}");
    text.replacen(from, to, 1)
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("a temporary file");
    path
}

fn validate(validator: &Path, file: &Path) -> Output {
    run(Command::new(validator)
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .arg(file))
}

/// checkov on one file, offline (`--skip-download`: no Prisma Cloud look-up
/// of guidelines), from a scratch directory.
fn checkov(checkov: &Path, framework: &str, file: &Path) -> Output {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    run(Command::new(checkov)
        .current_dir(scratch.path())
        .args([
            "--framework",
            framework,
            "--compact",
            "--quiet",
            "--skip-download",
            "-f",
        ])
        .arg(file))
}

const OVERLAY: &str = "deploy/kubernetes/overlays/example";
const BASE: &str = "deploy/kubernetes/base";

#[test]
fn the_example_overlay_renders_agents_coordinator_and_their_wiring() {
    let Some(kubectl) = tool("kubectl", "the rendering of deploy/kubernetes") else {
        return;
    };
    let base = render(&kubectl, BASE);
    let rendered = render(&kubectl, OVERLAY);
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "PersistentVolumeClaim",
        "StatefulSet",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
    ] {
        assert!(
            rendered.contains(&format!("\nkind: {kind}\n")),
            "no {kind} in the overlay:\n{rendered}"
        );
    }
    // Secrets are created by hand, never rendered from the repository.
    assert!(!rendered.contains("kind: Secret\n") && !base.contains("kind: Secret\n"));
    // The agents: headless, started together, token and TLS from Secrets.
    for wanted in [
        "clusterIP: None",
        "publishNotReadyAddresses: false",
        "podManagementPolicy: Parallel",
        "serviceName: ld-tower-agents",
        "name: LOAD_DENSITY_SOCKET_TOKEN",
        "secretKeyRef:",
        "secretName: ld-tower-agent-tls",
        "secretName: ld-tower-agent-ca",
        "- --tls-cert\n",
        "- --framed\n",
        "tcpSocket:",
        "readOnlyRootFilesystem: true",
        "automountServiceAccountToken: false",
        "claimName: ld-tower-reports",
        "restartPolicy: Never",
        "image: registry.example.com/ld-tower:0.1.0",
    ] {
        assert!(
            rendered.contains(wanted),
            "no {wanted:?} in the overlay:\n{rendered}"
        );
    }
    assert!(!rendered.contains(":latest"), "an image is not pinned");
    // The coordinator waits for as many agents as the StatefulSet runs:
    // ten in the example, the base's three in the base.
    for (which, text, agents) in [(OVERLAY, &rendered, 10), (BASE, &base, 3)] {
        assert_eq!(number_after(text, "replicas: "), agents, "{which}");
        assert_eq!(
            number_after(text, "\"expected_workers\": "),
            agents,
            "{which}: fleet.json's expected_workers is the StatefulSet's replicas"
        );
        assert!(text.contains("\"runner_mode\": \"master\""), "{which}");
    }
    // The coordinator reaches DNS and the agents' port, nothing else.
    assert!(rendered.contains("name: ld-tower-coordinator\n"));
    assert!(rendered.contains("- Egress\n"));
    // The overlay's action file replaced the base's, and the Job mounts the
    // generated ConfigMap under its hashed name.
    assert!(rendered.contains("ld-tower-agents.load-test.svc.cluster.local:9940"));
    let hashed = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: ld-tower-fleet-"))
        .expect("the generated ConfigMap's hashed name");
    assert_eq!(
        rendered
            .matches(&format!("name: ld-tower-fleet-{hashed}"))
            .count(),
        2,
        "the ConfigMap and the Job's volume name it alike"
    );
}

#[test]
fn every_rendered_object_matches_the_kubernetes_api_schemas() {
    let Some(kubectl) = tool("kubectl", "the schemas of deploy/kubernetes") else {
        return;
    };
    let Some(validator) = tool("kubernetes-validate", "the schemas of deploy/kubernetes") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, which) in [("overlay.yaml", OVERLAY), ("base.yaml", BASE)] {
        let file = write(dir.path(), name, &render(&kubectl, which));
        let out = validate(&validator, &file);
        assert!(
            out.status.success(),
            "{which} against the schemas: {}",
            text(&out)
        );
    }

    // It can fail: a wrong type, and a field the API does not have.
    let rendered = render(&kubectl, OVERLAY);
    let wrong_type = write(
        dir.path(),
        "wrong-type.yaml",
        &broken(&rendered, "replicas: 10\n", "replicas: \"ten\"\n"),
    );
    let out = validate(&validator, &wrong_type);
    assert!(
        !out.status.success(),
        "replicas: \"ten\" passed: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("is not of type 'integer'"),
        "{}",
        text(&out)
    );

    let unknown = write(
        dir.path(),
        "unknown-field.yaml",
        &broken(
            &rendered,
            "podManagementPolicy: Parallel\n",
            "podManagementPolicy: Parallel\n  replica: 2\n",
        ),
    );
    let out = validate(&validator, &unknown);
    assert!(
        !out.status.success(),
        "an unknown field passed: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("'replica' was unexpected"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_rendered_manifests_pass_checkov() {
    let Some(kubectl) = tool("kubectl", "the checkov scan of deploy/kubernetes") else {
        return;
    };
    let Some(scanner) = tool("checkov", "the checkov scan of deploy/kubernetes") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rendered = render(&kubectl, OVERLAY);
    let file = write(dir.path(), "overlay.yaml", &rendered);
    let out = checkov(&scanner, "kubernetes", &file);
    assert!(out.status.success(), "checkov on {OVERLAY}: {}", text(&out));
    assert!(text(&out).contains("Failed checks: 0"), "{}", text(&out));

    // It can fail: a privileged container.
    let privileged = write(
        dir.path(),
        "privileged.yaml",
        &broken(&rendered, "privileged: false\n", "privileged: true\n"),
    );
    let out = checkov(&scanner, "kubernetes", &privileged);
    assert!(
        !out.status.success(),
        "a privileged container passed: {}",
        text(&out)
    );
    assert!(text(&out).contains("CKV_K8S_16"), "{}", text(&out));

    // The skips are each one check on one object, with its reason: without
    // the StatefulSet's, its image tag (no digest) fails again.
    let unskipped = write(
        dir.path(),
        "unskipped.yaml",
        &broken(
            &rendered,
            "checkov.io/skip2: CKV_K8S_43=",
            "unrelated: CKV_K8S_43=",
        ),
    );
    let out = checkov(&scanner, "kubernetes", &unskipped);
    assert!(
        !out.status.success(),
        "an unskipped check passed: {}",
        text(&out)
    );
    assert!(text(&out).contains("CKV_K8S_43"), "{}", text(&out));
}

#[test]
fn the_dockerfile_passes_checkov() {
    let Some(scanner) = tool("checkov", "the checkov scan of the Dockerfile") else {
        return;
    };
    let dockerfile = root().join("Dockerfile");
    let out = checkov(&scanner, "dockerfile", &dockerfile);
    assert!(
        out.status.success(),
        "checkov on the Dockerfile: {}",
        text(&out)
    );
    assert!(text(&out).contains("Failed checks: 0"), "{}", text(&out));

    // It can fail: an image running as root (no USER).
    let original = std::fs::read_to_string(&dockerfile).expect("the Dockerfile");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let as_root = write(
        dir.path(),
        "Dockerfile",
        &broken(&original, "USER 65532:65532\n", ""),
    );
    let out = checkov(&scanner, "dockerfile", &as_root);
    assert!(
        !out.status.success(),
        "a Dockerfile without USER passed: {}",
        text(&out)
    );
    assert!(text(&out).contains("CKV_DOCKER_3"), "{}", text(&out));
}
