//! The OpenAPI document is the API's contract: every status a route can answer is in it. The
//! answers that come from shared machinery rather than from a handler — the bearer-token check,
//! the body and parameter extractors, the database being away — are added here by rule, so a new
//! route cannot forget them and no route lists them by hand.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the shared error answers to every operation of `doc`.
pub fn add_shared_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            add_to(path, operation);
        }
    }
}

fn add_to(path: &str, operation: &mut Operation) {
    let mut shared: Vec<(&str, &str)> = Vec::new();
    if requires_token(operation) {
        shared.push((
            "401",
            "No bearer token, or one that is malformed, expired or revoked",
        ));
    }
    if operation.request_body.is_some() {
        shared.extend([
            (
                "400",
                "The body could not be read (malformed JSON or multipart)",
            ),
            ("413", "The body is larger than MAX_BODY_BYTES"),
            ("415", "A Content-Type this route does not take"),
            ("422", "The body does not match the schema"),
        ]);
    }
    let has_parameters = operation.parameters.iter().flatten().any(|p| {
        matches!(
            p.parameter_in,
            ParameterIn::Path | ParameterIn::Query | ParameterIn::Header
        )
    });
    if has_parameters {
        shared.push(("422", "A parameter does not match its schema"));
    }
    // Everything but liveness and metrics reads the database.
    if !matches!(path, "/health" | "/metrics") {
        shared.push(("503", "The database is not available; try again shortly"));
    }
    for (status, description) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
}

/// Whether every way to call the operation needs a token (an empty requirement makes it optional).
fn requires_token(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty()
            && requirements.iter().all(|r| {
                serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
            })
    })
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}
