//! Leads: the prototype's `GET /api/leads` (still a JSON array) with filters, sort and cursor
//! pagination in headers; one lead with its conversation; managers' edits; a CSV export.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::leads::{Conversation, Lead, LeadCursor, LeadEdit, LeadFilter, LeadSort};
use crate::db::messages::ConversationMessage;
use crate::domain::city::City;
use crate::domain::lead_status::LeadStatus;
use crate::domain::object_type::ObjectType;
use crate::domain::phone::Phone;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::json::ApiJson;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// At most this many rows (1–500, default 100).
    pub limit: Option<i64>,
}

impl ListParams {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 500)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LeadQuery {
    /// new, qualified, in_work, won or lost.
    pub status: Option<String>,
    /// City key, e.g. `almaty`.
    pub city: Option<String>,
    pub qualified: Option<bool>,
    /// Search in name, phone, summary and the customer's id.
    pub q: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// `-created_at` (default), `created_at` or `-updated_at`.
    pub sort: Option<String>,
    /// From `X-Next-Cursor` / the `Link: rel="next"` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 100).
    pub limit: Option<i64>,
}

impl LeadQuery {
    fn parse(&self) -> Result<(LeadFilter, LeadSort, Option<LeadCursor>, i64), AppError> {
        let status = self
            .status
            .as_deref()
            .map(str::parse::<LeadStatus>)
            .transpose()
            .map_err(AppError::Validation)?;
        let sort = match self.sort.as_deref() {
            None | Some("-created_at") => LeadSort::NewestFirst,
            Some("created_at") => LeadSort::OldestFirst,
            Some("-updated_at") => LeadSort::RecentlyUpdated,
            Some(other) => {
                return Err(AppError::Validation(format!(
                    "unknown sort `{other}` (use -created_at, created_at or -updated_at)"
                )));
            }
        };
        let cursor = self
            .cursor
            .as_deref()
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<LeadCursor>(&bytes).ok())
                    .ok_or_else(|| AppError::Validation("invalid cursor".into()))
            })
            .transpose()?;
        Ok((
            LeadFilter {
                status,
                city: self.city.clone(),
                qualified: self.qualified,
                q: self.q.clone(),
                created_from: self.created_from,
                created_to: self.created_to,
            },
            sort,
            cursor,
            self.limit.unwrap_or(100).clamp(1, 500),
        ))
    }
}

/// The company's leads: a JSON array, as the prototype returned. The next page (if any) is in the
/// `X-Next-Cursor` header and in `Link: <…>; rel="next"`.
#[utoipa::path(get, path = "/api/leads", tag = "leads", security(("bearer" = [])),
    params(LeadQuery),
    responses(
        (status = 200, body = [Lead], headers(
            ("X-Next-Cursor" = String, description = "Cursor of the next page"),
            ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_leads(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<LeadQuery>,
) -> Result<Response, AppError> {
    let (filter, sort, cursor, limit) = query.parse()?;
    let (leads, next) =
        db::leads::search(&state.pool, user.tenant_id, &filter, sort, cursor, limit).await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = next {
        let token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&next).map_err(AppError::internal)?);
        let mut params: Vec<(String, String)> = vec![("cursor".into(), token.clone())];
        let keep = [
            ("status", &query.status),
            ("city", &query.city),
            ("q", &query.q),
            ("sort", &query.sort),
        ];
        for (name, value) in keep {
            if let Some(value) = value {
                params.push((name.into(), value.clone()));
            }
        }
        if let Some(qualified) = query.qualified {
            params.push(("qualified".into(), qualified.to_string()));
        }
        for (name, value) in [
            ("created_from", query.created_from),
            ("created_to", query.created_to),
        ] {
            if let Some(value) = value {
                params.push((name.into(), value.to_rfc3339()));
            }
        }
        params.push(("limit".into(), limit.to_string()));
        let query_string = params
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        headers.insert(
            "x-next-cursor",
            HeaderValue::from_str(&token).map_err(AppError::internal)?,
        );
        headers.insert(
            header::LINK,
            HeaderValue::from_str(&format!("</api/leads?{query_string}>; rel=\"next\""))
                .map_err(AppError::internal)?,
        );
    }
    Ok((headers, Json(leads)).into_response())
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub lead: Lead,
    /// Bumped on every change.
    pub version: i32,
    /// The conversation the lead came from, oldest first (up to 500 messages).
    pub conversation: Vec<ConversationMessage>,
}

/// One lead with its conversation.
#[utoipa::path(get, path = "/api/leads/{id}", tag = "leads", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadDetail), (status = 404, body = ErrorBody)))]
pub async fn get_lead(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<LeadDetail>, AppError> {
    let (lead, version) = db::leads::by_id(&state.pool, user.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound("lead"))?;
    let conversation = db::messages::after_seq(
        &state.pool,
        user.tenant_id,
        crate::domain::BotUserId(lead.bot_user_id),
        0,
        500,
    )
    .await?;
    Ok(Json(LeadDetail {
        lead,
        version,
        conversation,
    }))
}

/// A manager's change: status along new → qualified → in_work → won | lost (lost needs a
/// loss_reason), and corrections of the lead's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadPatchRequest {
    pub status: Option<LeadStatus>,
    pub loss_reason: Option<String>,
    pub name: Option<String>,
    /// A Kazakhstan mobile number in any common format; stored as +7XXXXXXXXXX.
    pub phone: Option<String>,
    /// City key, e.g. `almaty`, or `other`.
    pub city: Option<String>,
    /// house, cottage, apartment_renovation, bathhouse, garage, commercial or other.
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
}

/// Updates a lead; an invalid status transition is 409.
#[utoipa::path(patch, path = "/api/leads/{id}", tag = "leads", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = LeadPatchRequest,
    responses(
        (status = 200, body = LeadDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "Invalid status transition", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn patch_lead(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<LeadPatchRequest>,
) -> Result<Json<LeadDetail>, AppError> {
    let invalid = |e: String| AppError::Validation(e);
    let edit = LeadEdit {
        status: req.status,
        loss_reason: req
            .loss_reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        name: req
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        phone: req
            .phone
            .as_deref()
            .map(|p| {
                Phone::parse(p)
                    .map(|p| p.as_str().to_owned())
                    .map_err(|e| invalid(e.to_string()))
            })
            .transpose()?,
        city: req
            .city
            .as_deref()
            .map(|c| {
                c.parse::<City>()
                    .map(|c| c.as_str().to_owned())
                    .map_err(|e| invalid(e.to_string()))
            })
            .transpose()?,
        object_type: req
            .object_type
            .as_deref()
            .map(|o| {
                o.parse::<ObjectType>()
                    .map(|o| o.as_str().to_owned())
                    .map_err(|e| invalid(e.to_string()))
            })
            .transpose()?,
        area_m2: match req.area_m2 {
            Some(a) if !(a > 0.0 && a < 1_000_000.0) => {
                return Err(invalid(
                    "area_m2 must be a positive number of square metres".into(),
                ));
            }
            other => other,
        },
        summary: req.summary,
    };
    db::leads::edit(&state.pool, user.tenant_id, id, &edit)
        .await
        .map_err(|err| match err {
            db::leads::EditError::NotFound => AppError::NotFound("lead"),
            e @ db::leads::EditError::InvalidTransition { .. } => AppError::Conflict {
                code: "invalid_transition",
                message: e.to_string(),
            },
            e @ db::leads::EditError::LossReasonRequired => AppError::Validation(e.to_string()),
            db::leads::EditError::Db(e) => e.into(),
        })?;
    tracing::info!(tenant_id = %user.tenant_id, lead_id = %id, user_id = %user.user_id, "lead edited");
    get_lead(State(state), user, Path(id)).await
}

/// The leads as CSV (UTF-8 with a byte-order mark, so Excel shows Cyrillic correctly); same filters
/// as the list, up to 50,000 rows.
#[utoipa::path(get, path = "/api/leads.csv", tag = "leads", security(("bearer" = [])),
    params(LeadQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody)))]
pub async fn leads_csv(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<LeadQuery>,
) -> Result<Response, AppError> {
    let (filter, sort, _, _) = query.parse()?;
    let (leads, _) =
        db::leads::search(&state.pool, user.tenant_id, &filter, sort, None, 50_000).await?;
    let mut csv = String::from(
        "\u{feff}id,user_id,name,phone,city,object_type,area_m2,status,loss_reason,summary,created_at,updated_at\r\n",
    );
    for l in &leads {
        let fields = [
            l.id.to_string(),
            l.user_id.clone(),
            l.name.clone().unwrap_or_default(),
            l.phone.clone().unwrap_or_default(),
            l.city.clone().unwrap_or_default(),
            l.object_type.clone().unwrap_or_default(),
            l.area_m2.map(|a| a.to_string()).unwrap_or_default(),
            l.status.clone(),
            l.loss_reason.clone().unwrap_or_default(),
            l.summary.clone().unwrap_or_default(),
            l.created_at.to_rfc3339(),
            l.updated_at.to_rfc3339(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// RFC 4180 quoting; a value a spreadsheet would run as a formula is defused with a leading `'`.
/// Spreadsheets skip leading whitespace before `=`, `+`, `-` or `@`, and treat a leading TAB or CR
/// as a formula trigger too (OWASP's CSV injection list); plain numbers such as `+77012345678` stay.
fn csv_field(value: &str) -> String {
    let starts_formula = value.starts_with(['\t', '\r'])
        || (value.trim_start().starts_with(['=', '+', '-', '@'])
            && value.trim().parse::<f64>().is_err());
    let value = if starts_formula {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The company's conversations (one per customer and channel), most recently active first.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = [Conversation]), (status = 401, body = ErrorBody)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Conversation>>, AppError> {
    Ok(Json(
        db::leads::conversations(&state.pool, user.tenant_id, params.limit()).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_quoting_and_formula_defusing() {
        assert_eq!(csv_field("Ерлан"), "Ерлан");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+77012345678"), "+77012345678");
        assert_eq!(csv_field("-5"), "-5");
        // Leading whitespace, TAB or CR before a formula does not get it past.
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
        assert_eq!(csv_field("  =1+1"), "'  =1+1");
        assert_eq!(csv_field("\r=1+1"), "\"'\r=1+1\"");
        assert_eq!(csv_field(" @SUM(A1)"), "' @SUM(A1)");
        assert_eq!(csv_field("\tplain"), "'\tplain");
    }
}
