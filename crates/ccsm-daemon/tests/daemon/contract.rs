//! The generated OpenAPI document as a contract: every answer the tests get
//! through the harness is checked against it, and the document and the router
//! have the same routes.

use std::sync::OnceLock;

use serde_json::{json, Value};

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(ccsm_daemon::openapi)
}

/// The documented path a concrete path matches (`/api/claude/sessions/abc/agents`
/// → `/api/claude/sessions/{id}/agents`), for `method`.
pub fn operation(method: &str, path: &str) -> Option<(String, &'static Value)> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    let paths = doc()["paths"].as_object()?;
    // Literal segments win over parameters (as the router decides).
    let mut best: Option<(usize, String, &Value)> = None;
    for (template, item) in paths {
        let t: Vec<&str> = template.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let fits = t.iter().zip(&segs).all(|(a, b)| {
            if a.starts_with('{') {
                true
            } else {
                literal += 1;
                a == b
            }
        });
        if !fits {
            continue;
        }
        if let Some(op) = item.get(method.to_ascii_lowercase()) {
            if best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, template.clone(), op));
            }
        }
    }
    best.map(|(_, t, op)| (t, op))
}

/// Checks an answer against the document: its status is documented for the
/// route (exactly, or by its class), and a JSON body fits the schema.
pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    let Some((template, op)) = operation(method, path) else {
        // Not a documented route: the router's own answers (no such route, a
        // method it does not take) are checked as error envelopes.
        assert!(
            status == 404 || status == 405,
            "{method} {path}: undocumented route answered {status}"
        );
        return;
    };
    let responses = &op["responses"];
    let class = format!("{}XX", status / 100);
    let Some(resp) = responses
        .get(status.to_string())
        .or_else(|| responses.get(&class))
    else {
        panic!("{method} {template}: status {status} is not documented: {body}");
    };
    let Some(schema) = resp["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let mut schema = Value::Object(schema.clone());
    schema["components"] = doc()["components"].clone();
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{method} {template}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} ({status}) does not fit the document:\n{}\n{body:#}",
        errors.join("\n")
    );
}

/// Stand-ins for the path parameters.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "00000000-0000-4000-8000-000000000001")
        .replace("{name}", "backend")
        .replace("{pid}", "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_and_the_router_have_the_same_routes() {
    let d = crate::harness::Daemon::start().await;
    let paths = doc()["paths"].as_object().expect("paths");
    assert!(paths.len() >= 35, "{} paths", paths.len());
    assert_eq!(doc()["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let health = d.client_get("/health").await.expect("over the socket");
    assert_eq!(health["status"], "ok");
    let served = d.get_raw("/api/openapi.json").await;
    assert_eq!(&served, doc(), "the daemon serves the generated document");
    let methods = ["get", "post", "put", "delete", "patch"];
    let mut operations = 0;
    for (template, item) in paths {
        let path = concrete(template);
        for m in methods {
            let (status, v) = d.raw(&m.to_ascii_uppercase(), &path, Some(json!({}))).await;
            if item.get(m).is_some() {
                operations += 1;
                // The router has it: whatever it says, it is not "no such route"
                // nor "not this method".
                assert!(
                    v["error"]["message"] != "no such route" && status != 405,
                    "{m} {template}: the router lacks it ({status} {v})"
                );
            } else {
                // The router has no undocumented method on a documented path.
                assert_eq!(status, 405, "{m} {template}: answered {status} {v}");
            }
        }
    }
    assert!(operations >= 39, "{operations} operations");
    // Every route is registered with its documentation (utoipa-axum's
    // `routes!`): the router is built nowhere else.
    let src = include_str!("../../src/lib.rs");
    assert!(
        !src.contains(".route(\"") && !src.contains(".route(&"),
        "a route added without its documentation"
    );
    let _ = d.stop().await;
}
