//! `GET /`: the page the prototype served at its root. The managers' dashboard replaces it later.

use axum::response::Html;

pub async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}
