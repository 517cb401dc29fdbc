//! The `fftconv check` table (library side): every row passes, the rows cover 1-D/2-D/3-D in
//! f64 and f32, and the JSON Lines have exactly the documented keys.

use fftconv::check::suite;

#[test]
fn every_row_of_the_check_table_passes_in_both_dtypes() {
    let rows = suite::run().expect("the suite runs");
    let failed: Vec<_> = rows.iter().filter(|r| !r.pass).collect();
    assert!(failed.is_empty(), "failing rows: {failed:#?}");
    for dtype in ["f64", "f32"] {
        for rank in 1..=3 {
            // Operators act on (lead..., *S): count distinct spatial shapes per rank via the
            // identity rows, whose shape is (2, *S).
            let shapes = rows
                .iter()
                .filter(|r| r.dtype == dtype && r.op == "identity" && r.shape.len() == rank + 1)
                .count();
            assert!(shapes >= 3, "{dtype}: only {shapes} shapes of rank {rank}");
        }
    }
    let summaries = suite::summarise(&rows).unwrap();
    assert_eq!(summaries.len(), 2);
    for s in &summaries {
        assert_eq!(s.failed, 0, "{s:?}");
        assert!(s.operators >= 29, "{s:?}");
        assert!(s.worst_direct.is_some(), "{s:?}: no FFT-vs-direct rows");
    }
    let table = suite::table(&rows);
    assert_eq!(table.lines().count(), rows.len() + 1);
    assert!(!table.contains("FAIL"));
}

#[test]
fn json_rows_have_the_documented_keys_and_null_where_a_check_does_not_apply() {
    let cases = suite::cases::<f64>(&[5], 1).unwrap();
    let crop = cases.iter().find(|c| c.name == "crop").unwrap();
    let conv = cases.iter().find(|c| c.name == "circular_conv").unwrap();
    for (case, has_direct) in [(crop, false), (conv, true)] {
        let row = suite::check_case(case, 3).unwrap();
        let v: serde_json::Value = serde_json::to_value(&row).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "dense_err",
                "direct_err",
                "dot_err",
                "dtype",
                "fd_err",
                "op",
                "pass",
                "shape"
            ]
        );
        assert_eq!(obj["direct_err"].is_null(), !has_direct, "{}", case.name);
        assert!(obj["dot_err"].is_number() && obj["pass"] == true, "{v}");
        assert_eq!(obj["shape"], serde_json::json!(case.op.domain()));
    }
}
