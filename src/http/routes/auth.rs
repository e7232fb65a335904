//! `POST /api/auth/register` and `POST /api/auth/login`, compatible with the prototype's clients.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::domain::{Email, Password, TenantName};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::extract::{self, ApiForm, ApiJson};
use crate::http::limits::{self, ClientAddress};

use super::me::UserView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: Email,
    pub password: Password,
    #[schema(example = "ТОО Құрылыс")]
    pub company_name: TenantName,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub user: UserView,
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Creates a company (tenant) and its owner account.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Company and owner created", body = RegisterResponse),
        (status = 400, body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid email, password or company name", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Too many password hashes at once", body = ErrorBody),
    ))]
pub async fn register(
    state: axum::extract::State<AppState>,
    client: ClientAddress,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, AppError> {
    let user = sign_up(&state, client, req).await?;
    let access_token = state.auth.issue(&user)?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user: UserView::from(&user),
            access_token,
            token_type: "bearer",
        }),
    ))
}

/// Login credentials: OAuth2 password-flow form fields (`username` is the email); JSON clients may
/// send `email` instead of `username`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(alias = "email")]
    pub username: String,
    pub password: String,
}

/// Accepts the prototype's form body and, for newer clients, JSON.
pub struct LoginCredentials(LoginRequest);

impl FromRequest<AppState> for LoginCredentials {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if extract::is_json(req.headers()) {
            let ApiJson(body) = ApiJson::<LoginRequest>::from_request(req, state).await?;
            Ok(Self(body))
        } else {
            let ApiForm(body) = ApiForm::<LoginRequest>::from_request(req, state).await?;
            Ok(Self(body))
        }
    }
}

/// Exchanges email and password for an access token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body(content(
        (LoginRequest = "application/x-www-form-urlencoded"),
        (LoginRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Access token", body = TokenResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Unknown email or wrong password (the same answer for both)", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "Too many attempts for this account or from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Too many password checks at once", body = ErrorBody),
    ))]
pub async fn login(
    state: axum::extract::State<AppState>,
    client: ClientAddress,
    LoginCredentials(req): LoginCredentials,
) -> Result<Json<TokenResponse>, AppError> {
    let user = sign_in(&state, client, &req.username, &req.password).await?;
    Ok(Json(TokenResponse {
        access_token: state.auth.issue(&user)?,
        token_type: "bearer",
        expires_in: state.auth.ttl().as_secs(),
    }))
}

/// Creates a company and its owner (the API's registration and the dashboard's).
pub(crate) async fn sign_up(
    state: &AppState,
    client: ClientAddress,
    req: RegisterRequest,
) -> Result<db::users::User, AppError> {
    limits::check_register(state, client).await?;
    let RegisterRequest {
        email,
        password,
        company_name,
    } = req;
    let hash = state.auth.hash_password(&password).await?;
    let user = db::tenants::register(&state.pool, &company_name, &email, &hash)
        .await
        .map_err(|err| match err {
            db::tenants::RegisterError::EmailTaken => AppError::Conflict {
                code: "email_taken",
                message: "an account with this email already exists".into(),
            },
            db::tenants::RegisterError::Db(e) => e.into(),
        })?;
    tracing::info!(tenant_id = %user.tenant_id, user_id = %user.id, "company registered");
    Ok(user)
}

/// The account behind an email and password (the API's login and the dashboard's): throttled
/// before bcrypt, one answer for every refusal.
pub(crate) async fn sign_in(
    state: &AppState,
    client: ClientAddress,
    email: &str,
    password: &str,
) -> Result<db::users::User, AppError> {
    let refused = || AppError::Unauthorized {
        code: "invalid_credentials",
        message: "incorrect email or password".into(),
    };
    let email = Email::parse(email).ok();
    // Before bcrypt: a refused attempt costs one statement, not a core for a quarter second.
    limits::check_login(state, client, email.as_ref().map(Email::as_str)).await?;
    let credentials = match &email {
        Some(email) => db::users::credentials_by_email(&state.pool, email).await?,
        None => None,
    };
    let verified = state
        .auth
        .verify_password(
            password,
            credentials.as_ref().map(|c| c.password_hash.as_str()),
        )
        .await?;
    let user = match credentials {
        Some(c) if verified && c.user.is_active => c.user,
        _ => return Err(refused()),
    };
    tracing::info!(tenant_id = %user.tenant_id, user_id = %user.id, "logged in");
    Ok(user)
}
