//! The leads: the table with its filters and CSV (or, on a first visit, how to send a first
//! message), and a lead's page with its fields, status changes and conversation.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::conversations::{self, Back};
use super::words::t;
use super::{Ctx, see_other, web_user, when};
use crate::db;
use crate::db::leads::{LeadFilter, LeadSort};
use crate::domain::city::City;
use crate::domain::lead_status::LeadStatus;
use crate::domain::text::{LossReason, SearchText};
use crate::error::AppError;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/leads.csv", get(leads_csv))
        .route("/leads/{id}", get(lead_page))
        .route("/leads/{id}/status", post(change_status))
}

/// The leads table's filters, read leniently: a value that does not parse is no filter.
#[derive(Debug, Deserialize, Default, Clone)]
struct LeadsQuery {
    status: Option<String>,
    city: Option<String>,
    qualified: Option<String>,
    q: Option<String>,
}

impl LeadsQuery {
    fn filter(&self) -> LeadFilter {
        LeadFilter {
            status: self.status.as_deref().and_then(|s| s.parse().ok()),
            city: self
                .city
                .as_deref()
                .and_then(City::from_key)
                .map(|c| c.as_str().to_owned()),
            qualified: self.qualified.as_deref().map(|q| q == "on" || q == "true"),
            q: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .and_then(|q| SearchText::parse(q).ok())
                .map(|q| q.as_str().to_owned()),
            ..Default::default()
        }
    }

    /// The filters as a query string, for the CSV link.
    fn as_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status", &self.status),
            ("city", &self.city),
            ("qualified", &self.qualified),
            ("q", &self.q),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }
}

async fn leads_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LeadsQuery>,
) -> Result<Response, AppError> {
    let Some(user) = web_user(&state, &headers).await else {
        return Ok(see_other("/login", []));
    };
    crate::http::routes::leads::csv_export(
        &state,
        user.tenant_id,
        &query.filter(),
        LeadSort::NewestFirst,
    )
    .await
}

async fn home(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<LeadsQuery>,
) -> Result<Response, AppError> {
    let (lang, user) = (ctx.lang, &ctx.user);
    let filter = query.filter();
    let filtered = filter.status.is_some()
        || filter.city.is_some()
        || filter.qualified.is_some()
        || filter.q.is_some();
    let (leads, _) = db::leads::search(
        &state.pool,
        user.tenant_id,
        &filter,
        LeadSort::NewestFirst,
        None,
        100,
    )
    .await?;
    let curl = format!(
        "curl {}/api/chat \\\n  -H \"Authorization: Bearer $TOKEN\" \\\n  -d user_id=client-1 -d text='Здравствуйте! Дом 120 м² в Алматы'",
        state.public_url
    );
    let body = html! {
        h1 { (t(lang, "leads")) }
        @if !leads.is_empty() || filtered {
            form #filters method="get" action="/" {
                select #status-filter name="status" aria-label=(t(lang, "status")) {
                    option value="" { (t(lang, "all")) }
                    @for s in LeadStatus::ALL {
                        option value=(s.as_str()) selected[filter.status == Some(*s)] { (s.as_str()) }
                    }
                }
                select #city-filter name="city" aria-label=(t(lang, "city")) {
                    option value="" { (t(lang, "city")) ": " (t(lang, "all")) }
                    @for c in City::ALL {
                        option value=(c.as_str()) selected[filter.city.as_deref() == Some(c.as_str())] { (c.as_str()) }
                    }
                }
                label { input type="checkbox" name="qualified" checked[filter.qualified == Some(true)]; " " (t(lang, "qualified_only")) }
                input #q type="search" name="q" placeholder=(t(lang, "search")) value=(query.q.as_deref().unwrap_or(""));
                button #apply type="submit" { (t(lang, "filter")) }
                a #csv href={ "/leads.csv?" (query.as_query()) } { (t(lang, "csv")) }
            }
        }
        @if leads.is_empty() && filtered {
            p #no-match { (t(lang, "no_match")) }
        } @else if leads.is_empty() {
            section #empty-state {
                h2 { (t(lang, "empty")) }
                p { (t(lang, "empty_how")) }
                pre { "TOKEN=$(curl -s " (state.public_url) "/api/auth/login -d username=" (user.email) " -d password=…" " | jq -r .access_token)\n" (curl) }
                p { (t(lang, "empty_telegram")) }
            }
        } @else {
            table #leads {
                thead { tr {
                    th { (t(lang, "name")) } th { (t(lang, "phone")) } th { (t(lang, "city")) }
                    th.hide-narrow { (t(lang, "object")) } th.hide-narrow { (t(lang, "area")) }
                    th { (t(lang, "status")) } th.hide-narrow { (t(lang, "created")) }
                } }
                tbody {
                    @for lead in &leads {
                        tr {
                            td { a href={ "/leads/" (lead.id) } { (lead.name.as_deref().unwrap_or(&lead.user_id)) } }
                            td { (lead.phone.as_deref().unwrap_or("—")) }
                            td { (lead.city.as_deref().unwrap_or("—")) }
                            td.hide-narrow { (lead.object_type.as_deref().unwrap_or("—")) }
                            td.hide-narrow { @if let Some(area) = lead.area_m2 { (area) } @else { "—" } }
                            td.status { (lead.status.as_str()) }
                            td.hide-narrow { (when(&lead.created_at)) }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.render(StatusCode::OK, t(lang, "title"), body))
}

#[derive(Debug, Deserialize, Default)]
struct LeadQuery {
    /// Which of the page's forms could not do what was asked (a fixed set of keys).
    error: Option<String>,
}

/// The page's message for a form's `?error=` key; anything else is ignored.
pub(super) fn form_error(ctx: &Ctx, key: Option<&str>) -> Option<&'static str> {
    const KEYS: [&str; 4] = [
        "err_status",
        "err_loss_reason",
        "err_reply",
        "err_take_over",
    ];
    key.filter(|k| KEYS.contains(k)).map(|k| ctx.t(k))
}

/// The tenant's lead `id` (a path segment), or None.
async fn find_lead(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<db::leads::Lead>, AppError> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    Ok(db::leads::by_id(&state.pool, ctx.user.tenant_id, id)
        .await?
        .map(|(lead, _)| lead))
}

async fn lead_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<LeadQuery>,
) -> Result<Response, AppError> {
    let Some(lead) = find_lead(&state, &ctx, &id).await? else {
        return Ok(ctx.not_found());
    };
    let bot_user = crate::domain::BotUserId(lead.bot_user_id);
    let conversation = db::leads::conversation(&state.pool, ctx.user.tenant_id, bot_user).await?;
    let messages =
        db::messages::after_seq(&state.pool, ctx.user.tenant_id, bot_user, 0, 500).await?;
    let error = form_error(&ctx, query.error.as_deref());
    let next: Vec<LeadStatus> = LeadStatus::ALL
        .iter()
        .copied()
        .filter(|s| *s != lead.status && lead.status.can_move_to(*s))
        .collect();
    let body = html! {
        p { a href="/" { (ctx.t("back")) } }
        h1 { (lead.name.as_deref().unwrap_or(&lead.user_id)) }
        table #lead {
            tr { th { (ctx.t("phone")) } td { (lead.phone.as_deref().unwrap_or("—")) } }
            tr { th { (ctx.t("city")) } td { (lead.city.as_deref().unwrap_or("—")) } }
            tr { th { (ctx.t("object")) } td { (lead.object_type.as_deref().unwrap_or("—")) } }
            tr { th { (ctx.t("area")) } td { @if let Some(area) = lead.area_m2 { (area) } @else { "—" } } }
            tr { th { (ctx.t("summary")) } td { (lead.summary.as_deref().unwrap_or("—")) } }
            tr { th { (ctx.t("status")) } td.status { (lead.status.as_str()) } }
            tr { th { (ctx.t("created")) } td { (when(&lead.created_at)) } }
            tr { th { (ctx.t("updated")) } td { (when(&lead.updated_at)) } }
        }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        @if !next.is_empty() {
            form #status-form method="post" action={ "/leads/" (lead.id) "/status" } {
                (super::csrf_field(&ctx.csrf))
                label for="status" { (ctx.t("change_status")) " " }
                select #status name="status" {
                    @for s in &next { option value=(s.as_str()) { (s.as_str()) } }
                }
                label for="loss_reason" { (ctx.t("loss_reason")) }
                input #loss_reason type="text" name="loss_reason" maxlength="500";
                button #save-status type="submit" { (ctx.t("save")) }
            }
        }
        @if let Some(conversation) = &conversation {
            (conversations::section(&ctx, conversation, &messages, Back::Lead))
        }
    };
    Ok(ctx.render(StatusCode::OK, ctx.t("title"), body))
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    csrf: Option<String>,
    status: String,
    loss_reason: Option<String>,
}

async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    let ctx = match Ctx::form(&state, &headers, form.csrf.as_deref().unwrap_or_default()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let lead = match find_lead(&state, &ctx, &id).await {
        Ok(Some(lead)) => lead,
        Ok(None) => return ctx.not_found(),
        Err(e) => return e.into_response(),
    };
    let back = |error: Option<&str>| {
        let query = error.map(|e| format!("?error={e}")).unwrap_or_default();
        see_other(&format!("/leads/{}{query}", lead.id), [])
    };
    let Ok(status) = form.status.parse::<LeadStatus>() else {
        return back(Some("err_status"));
    };
    let loss_reason = match form
        .loss_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(reason) => match LossReason::parse(reason) {
            Ok(reason) => Some(reason.as_str().to_owned()),
            Err(_) => return back(Some("err_loss_reason")),
        },
        None => None,
    };
    let edit = db::leads::LeadEdit {
        status: Some(status),
        loss_reason,
        ..Default::default()
    };
    let tenant = ctx.user.tenant_id;
    match db::leads::edit(&state.pool, tenant, lead.id, &edit).await {
        Ok(()) => {
            tracing::info!(tenant_id = %tenant, lead_id = %lead.id, status = status.as_str(),
                "lead status changed on the dashboard");
            back(None)
        }
        Err(db::leads::EditError::LossReasonRequired) => back(Some("err_loss_reason")),
        Err(db::leads::EditError::InvalidTransition { .. }) => back(Some("err_status")),
        Err(db::leads::EditError::NotFound) => back(None),
        Err(db::leads::EditError::Db(e)) => AppError::from(e).into_response(),
    }
}
