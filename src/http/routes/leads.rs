//! Leads: the prototype's `GET /api/leads` (still a JSON array) with filters, sort and cursor
//! pagination in headers; one lead with its conversation; managers' edits; a CSV export.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::leads::{Conversation, Lead, LeadCursor, LeadEdit, LeadFilter, LeadSort};
use crate::db::messages::ConversationMessage;
use crate::domain::TenantId;
use crate::domain::city::City;
use crate::domain::dates::Instant;
use crate::domain::lead_status::LeadStatus;
use crate::domain::object_type::ObjectType;
use crate::domain::phone::Phone;
use crate::domain::text::{LeadSummary, LossReason, NameText, SearchText};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::{Authorized, LeadsRead, LeadsWrite};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, IntIn};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// At most this many rows (default 100).
    #[param(inline)]
    pub limit: Option<IntIn<1, 500>>,
}

impl ListParams {
    fn limit(&self) -> i64 {
        self.limit.map_or(100, |l| l.0)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    #[param(inline)]
    pub status: Option<LeadStatus>,
    #[param(inline)]
    pub city: Option<City>,
    pub qualified: Option<bool>,
    /// Search in name, phone, summary and the customer's id.
    #[param(inline)]
    pub q: Option<SearchText>,
    /// Created at or after.
    #[param(inline)]
    pub created_from: Option<Instant>,
    /// Created before.
    #[param(inline)]
    pub created_to: Option<Instant>,
    /// Newest first by default.
    #[param(inline)]
    pub sort: Option<LeadSort>,
    #[param(inline)]
    pub cursor: Option<PageCursor>,
    /// Page size (default 100).
    #[param(inline)]
    pub limit: Option<IntIn<1, 500>>,
}

impl LeadQuery {
    fn filter(&self) -> LeadFilter {
        LeadFilter {
            status: self.status,
            city: self.city.map(|c| c.as_str().to_owned()),
            qualified: self.qualified,
            q: self.q.as_ref().map(|q| q.as_str().to_owned()),
            created_from: self.created_from.map(Instant::utc),
            created_to: self.created_to.map(Instant::utc),
        }
    }
}

/// Where the previous page of leads ended, as `X-Next-Cursor` gave it: opaque to clients.
#[derive(Debug, Clone, Copy)]
pub struct PageCursor(LeadCursor);

impl PageCursor {
    fn encode(cursor: &LeadCursor) -> Result<String, AppError> {
        Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).map_err(AppError::internal)?))
    }
}

impl<'de> Deserialize<'de> for PageCursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        URL_SAFE_NO_PAD
            .decode(raw.as_bytes())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<LeadCursor>(&bytes).ok())
            .map(Self)
            .ok_or_else(|| {
                serde::de::Error::custom("must be a cursor this API returned in X-Next-Cursor")
            })
    }
}

impl utoipa::PartialSchema for PageCursor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::Custom("page-cursor".into())))
            .description(Some(
                "Opaque: the X-Next-Cursor (or Link rel=\"next\") of the previous page.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for PageCursor {}

/// The company's leads: a JSON array, as the prototype returned. The next page (if any) is in the
/// `X-Next-Cursor` header and in `Link: <…>; rel="next"`.
#[utoipa::path(get, path = "/api/leads", tag = "leads", security(("bearer" = []), ("api_key" = ["leads:read"])),
    params(LeadQuery),
    responses(
        (status = 200, body = [Lead], headers(
            ("X-Next-Cursor" = String, description = "Cursor of the next page"),
            ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_leads(
    State(state): State<AppState>,
    auth: Authorized<LeadsRead>,
    uri: Uri,
    ApiQuery(query): ApiQuery<LeadQuery>,
) -> Result<Response, AppError> {
    let limit = query.limit.map_or(100, |l| l.0);
    let (leads, next) = db::leads::search(
        &state.pool,
        auth.tenant_id,
        &query.filter(),
        query.sort.unwrap_or_default(),
        query.cursor.map(|c| c.0),
        limit,
    )
    .await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = next {
        let token = PageCursor::encode(&next)?;
        // The next page's link is this request's own query with the new cursor.
        let mut query_string = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
            if name != "cursor" {
                query_string.append_pair(&name, &value);
            }
        }
        let query_string = query_string.append_pair("cursor", &token).finish();
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
#[utoipa::path(get, path = "/api/leads/{id}", tag = "leads", security(("bearer" = []), ("api_key" = ["leads:read"])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadDetail), (status = 404, body = ErrorBody)))]
pub async fn get_lead(
    State(state): State<AppState>,
    auth: Authorized<LeadsRead>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<LeadDetail>, AppError> {
    lead_detail(&state, auth.tenant_id, id).await.map(Json)
}

async fn lead_detail(state: &AppState, tenant: TenantId, id: Uuid) -> Result<LeadDetail, AppError> {
    let (lead, version) = db::leads::by_id(&state.pool, tenant, id)
        .await?
        .ok_or(AppError::NotFound("lead"))?;
    let conversation = db::messages::after_seq(
        &state.pool,
        tenant,
        crate::domain::BotUserId(lead.bot_user_id),
        0,
        500,
    )
    .await?;
    Ok(LeadDetail {
        lead,
        version,
        conversation,
    })
}

/// A manager's change: status along new → qualified → in_work → won | lost (lost needs a
/// loss_reason), and corrections of the lead's fields. Absent or null fields stay as they are; an
/// empty name, loss reason or summary changes nothing either.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadPatchRequest {
    pub status: Option<LeadStatus>,
    pub loss_reason: Option<LossReason>,
    pub name: Option<NameText>,
    pub phone: Option<Phone>,
    pub city: Option<City>,
    pub object_type: Option<ObjectType>,
    /// Square metres.
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    pub area_m2: Option<f64>,
    pub summary: Option<LeadSummary>,
}

/// Updates a lead; an invalid status transition is 409.
#[utoipa::path(patch, path = "/api/leads/{id}", tag = "leads", security(("bearer" = []), ("api_key" = ["leads:write"])),
    params(("id" = Uuid, Path)), request_body = LeadPatchRequest,
    responses(
        (status = 200, body = LeadDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "A status transition that is not allowed (`invalid_transition`), or to `lost` without a `loss_reason` (`loss_reason_required`)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn patch_lead(
    State(state): State<AppState>,
    auth: Authorized<LeadsWrite>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<LeadPatchRequest>,
) -> Result<Json<LeadDetail>, AppError> {
    let non_empty = |text: String| Some(text).filter(|t| !t.is_empty());
    let edit = LeadEdit {
        status: req.status,
        loss_reason: req.loss_reason.and_then(|r| non_empty(r.into_string())),
        name: req.name.and_then(|n| non_empty(n.into_string())),
        phone: req.phone.map(|p| p.as_str().to_owned()),
        city: req.city.map(|c| c.as_str().to_owned()),
        object_type: req.object_type.map(|o| o.as_str().to_owned()),
        area_m2: match req.area_m2 {
            Some(a) if !(a > 0.0 && a <= 1_000_000.0) => {
                return Err(AppError::Validation(
                    "field `area_m2` must be more than 0 and at most 1000000 square metres".into(),
                ));
            }
            other => other,
        },
        summary: req.summary.and_then(|s| non_empty(s.into_string())),
    };
    db::leads::edit(&state.pool, auth.tenant_id, id, &edit)
        .await
        .map_err(|err| match err {
            db::leads::EditError::NotFound => AppError::NotFound("lead"),
            e @ db::leads::EditError::InvalidTransition { .. } => AppError::Conflict {
                code: "invalid_transition",
                message: e.to_string(),
            },
            // It depends on the lead (one already lost keeps its reason): a conflict with its
            // state, like a transition that is not allowed, not a malformed request.
            e @ db::leads::EditError::LossReasonRequired => AppError::Conflict {
                code: "loss_reason_required",
                message: e.to_string(),
            },
            db::leads::EditError::Db(e) => e.into(),
        })?;
    tracing::info!(tenant_id = %auth.tenant_id, lead_id = %id, actor = %auth.actor_id(), "lead edited");
    lead_detail(&state, auth.tenant_id, id).await.map(Json)
}

/// The leads as CSV (UTF-8 with a byte-order mark, so Excel shows Cyrillic correctly); same filters
/// as the list, up to 50,000 rows.
#[utoipa::path(get, path = "/api/leads.csv", tag = "leads", security(("bearer" = []), ("api_key" = ["leads:read"])),
    params(LeadQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ErrorBody)))]
pub async fn leads_csv(
    State(state): State<AppState>,
    auth: Authorized<LeadsRead>,
    ApiQuery(query): ApiQuery<LeadQuery>,
) -> Result<Response, AppError> {
    csv_export(
        &state,
        auth.tenant_id,
        &query.filter(),
        query.sort.unwrap_or_default(),
    )
    .await
}

/// The tenant's leads matching `filter` as a CSV download (the API's and the dashboard's).
pub(crate) async fn csv_export(
    state: &AppState,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: LeadSort,
) -> Result<Response, AppError> {
    let (leads, _) = db::leads::search(&state.pool, tenant, filter, sort, None, 50_000).await?;
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
            l.status.to_string(),
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
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", security(("bearer" = []), ("api_key" = ["leads:read"])),
    params(ListParams),
    responses((status = 200, body = [Conversation]), (status = 401, body = ErrorBody)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    auth: Authorized<LeadsRead>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<Conversation>>, AppError> {
    Ok(Json(
        db::leads::conversations(&state.pool, auth.tenant_id, None, params.limit()).await?,
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
