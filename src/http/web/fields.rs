//! A browser form's fields as sent (`application/x-www-form-urlencoded`), repeated names kept:
//! a group of checkboxes sends one pair per ticked box, which `Form<T>` cannot read into a list.

use axum::extract::{FromRequest, Request};

use crate::error::AppError;
use crate::http::extract::body_bytes;

pub struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let body = body_bytes(req, state).await?;
        Ok(Fields(
            form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Fields {
    /// The first value of `name`, trimmed; None when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`, in the form's order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn csrf(&self) -> &str {
        self.get("csrf").unwrap_or_default()
    }
}
