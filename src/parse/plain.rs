//! The `plain` format: one record per physical line, no timestamp, the
//! message is the whole line. Also the record shape for text the other
//! formats cannot structure (an SMS line without a trailer, CMTrace text
//! outside the markers).

use crate::event::Record;

/// The plain record for `text` starting at byte `offset` of the file.
pub(crate) fn record(text: &str, offset: u64, cut: bool) -> Record<'_> {
    Record {
        raw: text,
        message: text,
        component: None,
        thread: None,
        severity: None,
        time: None,
        offset,
        cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_line_is_the_message() {
        let r = record("  a ~ line  $$<X>", 42, true);
        assert_eq!(
            (r.raw, r.message),
            ("  a ~ line  $$<X>", "  a ~ line  $$<X>")
        );
        assert_eq!(
            (r.offset, r.cut, r.time, r.component),
            (42, true, None, None)
        );
    }
}
