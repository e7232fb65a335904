//! `LeadStatus` and the transitions managers may make.
//!
//! new → qualified → in_work → won | lost. The pipeline only ever moves `new` to `qualified`;
//! managers move leads along. A lead can be dropped (`lost`, with a reason) from any open state;
//! `won` and `lost` are final.

use std::fmt;
use std::str::FromStr;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    Qualified,
    InWork,
    Won,
    Lost,
}

impl LeadStatus {
    pub const ALL: &'static [LeadStatus] = &[
        Self::New,
        Self::Qualified,
        Self::InWork,
        Self::Won,
        Self::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Qualified => "qualified",
            Self::InWork => "in_work",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Won | Self::Lost)
    }

    /// Whether a manager may move a lead from `self` to `to` (staying put is always allowed).
    pub fn can_move_to(self, to: Self) -> bool {
        use LeadStatus::*;
        self == to
            || matches!(
                (self, to),
                (New, Qualified)
                    | (New | Qualified, InWork)
                    | (InWork, Won)
                    | (New | Qualified | InWork, Lost)
            )
    }
}

impl FromStr for LeadStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "new" => Ok(Self::New),
            "qualified" => Ok(Self::Qualified),
            "in_work" => Ok(Self::InWork),
            "won" => Ok(Self::Won),
            "lost" => Ok(Self::Lost),
            other => Err(format!("unknown lead status `{other}`")),
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::LeadStatus::*;

    #[test]
    fn transitions() {
        assert!(New.can_move_to(Qualified));
        assert!(Qualified.can_move_to(InWork));
        assert!(InWork.can_move_to(Won));
        assert!(InWork.can_move_to(Lost));
        assert!(New.can_move_to(Lost));
        assert!(!Won.can_move_to(Lost));
        assert!(!Lost.can_move_to(New));
        assert!(!Qualified.can_move_to(New));
        assert!(!New.can_move_to(Won));
        assert!(Won.can_move_to(Won));
    }
}
