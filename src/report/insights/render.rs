//! `insights.md` from an [`Insights`].

use super::super::table::md_text;
use super::tree::MAX_DEPTH;
use super::{Insights, TreeResult};
use crate::search::SearchOutcome;

/// The method paragraph (shared with the HTML page).
pub(crate) fn method_note() -> String {
    format!(
        "Trees: Gini CART, max depth {MAX_DEPTH}, each split chosen by a linfa-trees depth-1 \
         fit on the node's points (linfa 0.8.1's own recursion skips valid splits below the \
         root), sibling leaves with the same label merged. Fitted on the evaluated points: \
         training accuracy is shown, and with few points a tree describes this run rather \
         than predicting new points. Features: tp, pp, replicas, batch_size_cap, chunk_size \
         and max_tokens_in_batch as numbers (0 = none); gpu, scheduler, model, workload, \
         router and node one-hot (one 0/1 column per value); knobs that do not vary are left \
         out. Leaf counts are the points reaching the leaf. Importance is the sample-weighted \
         Gini decrease per feature, normalised to sum to 1."
    )
}

pub(crate) fn render_markdown(o: &SearchOutcome, ins: &Insights) -> String {
    let mut s = format!("# Insights: {}\n\n## Findings\n\n", md_text(&o.meta.name));
    for f in &ins.facts {
        s.push_str(&format!("- {}\n", md_text(f)));
    }
    for (k, t) in ins.trees.iter().enumerate() {
        s.push_str(&format!(
            "\n## Tree {}: {}\n\n{}\n\n",
            k + 1,
            t.title,
            md_text(&t.question)
        ));
        match &t.result {
            TreeResult::Skipped(why) => {
                s.push_str(&md_text(why));
                s.push('\n');
            }
            TreeResult::Fitted(f) => {
                s.push_str(&format!(
                    "{} points, {} leaves, training accuracy {:.0}%.\n\n```text\n{}```\n",
                    f.n,
                    f.leaves,
                    100.0 * f.accuracy,
                    f.rules
                ));
                if !f.importances.is_empty() {
                    s.push_str("\nFeature importance:\n\n");
                    for (name, v) in &f.importances {
                        s.push_str(&format!("- {}: {:.2}\n", md_text(name), v));
                    }
                }
                if !f.leaf_facts.is_empty() {
                    s.push_str("\nRead off the tree:\n\n");
                    for l in &f.leaf_facts {
                        s.push_str(&format!("- {}\n", md_text(l)));
                    }
                }
            }
        }
    }
    s.push_str(&format!("\n## Method\n\n{}\n", method_note()));
    s
}
