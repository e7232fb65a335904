//! Kazakh case and copula endings: city spellings are inflected with them, and a finder strips
//! them to see the stem.

/// Kazakh case and copula endings in folded form, longest first, used by several finders to
/// see through «Алматыда», «Айгерімге», «үйді», «Бекзатпын».
pub const KK_SUFFIXES: &[&str] = &[
    "дагы", "деги", "тагы", "теги", "нын", "нин", "дын", "дин", "тын", "тин", "дан", "ден", "тан",
    "тен", "нан", "нен", "мен", "бен", "пен", "лык", "лик", "дык", "дик", "тык", "тик", "га", "ге",
    "ка", "ке", "на", "не", "да", "де", "та", "те", "ны", "ни", "ды", "ди", "ты", "ти",
];

/// Strips one Kazakh suffix from a folded word if what remains is at least `min_stem` chars.
pub fn strip_kk_suffix(folded: &str, min_stem: usize) -> Option<(&str, &'static str)> {
    for suf in KK_SUFFIXES {
        if let Some(stem) = folded.strip_suffix(suf)
            && stem.chars().count() >= min_stem
        {
            return Some((stem, suf));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazakh_suffix_strip_respects_min_stem() {
        assert_eq!(strip_kk_suffix("алматыда", 3), Some(("алматы", "да")));
        assert_eq!(strip_kk_suffix("уйге", 3), None);
        assert_eq!(strip_kk_suffix("уйге", 2), Some(("уй", "ге")));
    }
}
