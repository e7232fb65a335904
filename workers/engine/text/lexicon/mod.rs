//! The word lists the finders consult about each other's words, in one place so that a finder
//! depends on the lexicon and never on another finder:
//!
//! - first names ([`is_known_first_name`]): the name finder's own list; the city finder and
//!   language detection leave names alone;
//! - city and town names in all their forms ([`CITY_FORMS`], [`is_city_word`]): the city
//!   finder's; the name finder and language detection leave them alone;
//! - object words ([`classify_object_word`], [`is_object_word`]): the object-type finder's; the
//!   name finder rejects them;
//! - number words ([`num_word`], [`is_kazakh_number_word`]): the number grammar's; the name
//!   finder rejects them, language detection counts the Kazakh ones;
//! - Kazakh case endings ([`KK_SUFFIXES`], [`strip_kk_suffix`]), which the city forms are
//!   inflected with.
//!
//! The files are only its layout: everything is used as `lexicon::…`. The lexicon sits on the
//! tokeniser and the domain's value types, and imports nothing else.

mod city_forms;
mod first_names;
mod kazakh;
mod number_words;
mod object_words;

pub use city_forms::{CITY_FORMS, is_city_word};
pub use first_names::{is_folded_first_name, is_known_first_name};
pub use kazakh::{KK_SUFFIXES, strip_kk_suffix};
pub use number_words::{KK_NUM_SUFFIXES, NumWord, is_kazakh_number_word, num_word};
pub use object_words::{DOM_FORMS, classify_object_word, is_object_word};
