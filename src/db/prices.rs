//! A company's price list (`price_items`; the turn reads it through turn_read()).

use sqlx::PgPool;

use super::tenant_tx;
use crate::domain::TenantId;
use crate::domain::price::{PriceItem, PriceList};

/// A stored line, as the composite `price_item` and the table both hold it.
#[derive(Debug, Clone, sqlx::Type)]
#[sqlx(type_name = "price_item")]
pub struct PriceRow {
    pub object_type: String,
    pub min_per_m2: i32,
    pub max_per_m2: i32,
    pub conditions: Option<String>,
}

/// The rows as the domain's list (they were checked when saved; a row no longer readable, e.g. an
/// object type a later release removed, is left out).
pub fn to_list(rows: Vec<PriceRow>) -> PriceList {
    let items: Vec<PriceItem> = rows
        .into_iter()
        .filter_map(|r| {
            Some(PriceItem {
                object_type: r.object_type.parse().ok()?,
                min_per_m2: u32::try_from(r.min_per_m2).ok()?,
                max_per_m2: u32::try_from(r.max_per_m2).ok()?,
                conditions: r.conditions,
            })
        })
        .collect();
    PriceList::from_stored(items)
}

pub async fn list(pool: &PgPool, tenant: TenantId) -> Result<PriceList, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query_as!(
        PriceRow,
        "SELECT object_type, min_per_m2, max_per_m2, conditions FROM price_items
          WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(to_list(rows))
}

/// Replaces the company's list with `list` (empty: no list).
pub async fn replace(pool: &PgPool, tenant: TenantId, list: &PriceList) -> Result<(), sqlx::Error> {
    let items = list.items();
    let objects: Vec<&str> = items.iter().map(|i| i.object_type.as_str()).collect();
    // MAX_PER_M2 fits an integer column.
    let mins: Vec<i32> = items.iter().map(|i| i.min_per_m2 as i32).collect();
    let maxes: Vec<i32> = items.iter().map(|i| i.max_per_m2 as i32).collect();
    let conditions: Vec<Option<String>> = items.iter().map(|i| i.conditions.clone()).collect();
    let mut tx = tenant_tx(pool, tenant).await?;
    sqlx::query!("DELETE FROM price_items WHERE tenant_id = $1", tenant.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "INSERT INTO price_items (tenant_id, object_type, min_per_m2, max_per_m2, conditions)
         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::text[])",
        tenant.0,
        &objects as &[&str],
        &mins,
        &maxes,
        &conditions as &[Option<String>]
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
