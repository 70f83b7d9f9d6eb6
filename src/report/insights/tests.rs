//! Insights on the synthetic search outcome of `report::testdata`.

use super::facts::top_quartile;
use super::features::{cond_text, path_text, Cond, Feature, Field};
use super::*;
use crate::report::testdata;

#[test]
fn feasibility_tree_finds_the_a100_tp1_rule() {
    let o = testdata::outcome();
    let ins = analyse(&o);
    let TreeResult::Fitted(f) = &ins.trees[0].result else {
        panic!("tree 1 should fit");
    };
    // The synthetic data is separable: a100 with TP 1 is the only infeasible group.
    assert_eq!(f.accuracy, 1.0, "{}", f.rules);
    assert!(f.rules.contains("if "), "{}", f.rules);
    assert!(f.rules.contains("100% pure"));
    assert!(
        ins.facts
            .iter()
            .any(|s| s.contains("TP=1 on a100-80g") || s.contains("tp = 1")),
        "{:?}",
        ins.facts
    );
    assert!(!f.importances.is_empty());
    let md = render_markdown(&o, &ins);
    assert!(md.contains("## Tree 1") && md.contains("```text"));
}

#[test]
fn quartile_labels_per_pair() {
    let o = testdata::outcome_for(&["m1", "m2"], &["w"]);
    let feasible: Vec<&PointResult> = o.points.iter().filter(|p| p.feasible()).collect();
    let l = top_quartile(&feasible);
    // 10 feasible per model → 3 top points each.
    assert_eq!(l.iter().filter(|&&b| b).count(), 6);
}

#[test]
fn degenerate_inputs_give_sentences() {
    let mut o = testdata::outcome();
    o.points.retain(|p| p.feasible());
    let ins = analyse(&o);
    assert!(
        matches!(&ins.trees[0].result, TreeResult::Skipped(s) if s.contains("nothing for a tree"))
    );
    for p in &mut o.points {
        p.capacity_qps = None;
    }
    let ins = analyse(&o);
    assert!(matches!(&ins.trees[0].result, TreeResult::Skipped(_)));
    assert!(matches!(&ins.trees[1].result, TreeResult::Skipped(s) if s.contains("at least 4")));
    o.points.clear();
    let ins = analyse(&o);
    assert!(ins.facts[0].contains("No point was evaluated"));
    let md = render_markdown(&o, &ins);
    assert!(md.contains("## Tree 2"));
}

#[test]
fn failed_points_are_left_out_and_counted() {
    let mut o = testdata::outcome();
    let before = analyse(&o);
    let TreeResult::Fitted(f0) = &before.trees[0].result else {
        panic!("tree 1 should fit");
    };
    let n0 = f0.n;
    // Three points whose evaluation failed: kept in, they would count as "misses SLOs" (no
    // capacity) and blur the tree's clean a100/TP 1 rule and the facts.
    let mut marked = 0;
    for p in o.points.iter_mut().filter(|p| p.feasible()).take(3) {
        p.capacity_status = CapacityStatus::Failed;
        p.capacity_qps = None;
        p.error = Some("predictor: batch outside the profiled range".into());
        marked += 1;
    }
    assert_eq!(marked, 3);
    let ins = analyse(&o);
    let TreeResult::Fitted(f) = &ins.trees[0].result else {
        panic!("tree 1 should still fit");
    };
    assert_eq!(f.n, n0 - 3, "failed points must not reach the tree");
    assert_eq!(f.accuracy, 1.0, "{}", f.rules);
    assert!(
        ins.facts
            .iter()
            .any(|s| s.starts_with("3 point(s) failed") && s.contains("left out")),
        "{:?}",
        ins.facts
    );
    assert!(!before.facts.iter().any(|s| s.contains("failed (")));
}

#[test]
fn paths_merge_bounds() {
    let feats = vec![
        Feature {
            field: Field::Tp,
            value: None,
        },
        Feature {
            field: Field::Gpu,
            value: Some("a100".into()),
        },
        Feature {
            field: Field::Gpu,
            value: Some("h100".into()),
        },
    ];
    let path = vec![
        Cond {
            feature: 0,
            left: false,
            bound: 2.0,
        },
        Cond {
            feature: 0,
            left: true,
            bound: 4.0,
        },
        Cond {
            feature: 1,
            left: true,
            bound: 0.0,
        },
        Cond {
            feature: 2,
            left: true,
            bound: 0.0,
        },
    ];
    assert_eq!(
        path_text(&feats, &path),
        "2 ≤ tp ≤ 4 and gpu not in {a100, h100}"
    );
    assert_eq!(cond_text(&feats, &path[0]), "tp ≥ 2");
    assert_eq!(cond_text(&feats, &path[2]), "gpu ≠ a100");
    let chunk = [Feature {
        field: Field::ChunkSize,
        value: None,
    }];
    let none = Cond {
        feature: 0,
        left: true,
        bound: 0.0,
    };
    assert_eq!(cond_text(&chunk, &none), "chunk_size = none");
    assert_eq!(path_text(&chunk, &[none]), "chunk_size = none");
}
