//! The decision trees: grown one linfa stump per node, printed as if/else rules, with feature
//! importances and the sentences read off their pure leaves.

use std::panic::{catch_unwind, AssertUnwindSafe};

use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2};

use super::features::{cond_text, features, path_text, Cond, Feature};
use super::{FittedTree, TreeResult};
use crate::search::PointResult;

/// Deepest split level of a tree.
pub(super) const MAX_DEPTH: usize = 4;
/// Cap on sentences read off one tree, so the findings stay a short read.
const MAX_LEAF_FACTS: usize = 5;

/// Why a stump could not be fitted; the tree is then skipped with this as its reason.
#[derive(Debug, thiserror::Error)]
enum TreeFitError {
    /// linfa refused the data.
    #[error(transparent)]
    Linfa(#[from] linfa::error::Error),
    /// linfa panicked (caught: a report must not take the run down).
    #[error("the tree fit failed unexpectedly")]
    Panicked,
}

/// A grown tree node holding the training points that reach it.
struct Node {
    idx: Vec<usize>,
    pos: usize,
    split: Option<Split>,
}

struct Split {
    feature: usize,
    /// Gini decrease of this split (parent minus weighted children).
    decrease: f64,
    /// Largest value on the `<=` side and smallest on the other.
    left_max: f64,
    right_min: f64,
    left: Box<Node>,
    right: Box<Node>,
}

impl Node {
    /// Majority label; ties go to the negative class so the output never depends on order.
    fn label(&self) -> bool {
        self.pos * 2 > self.idx.len()
    }
}

/// Grows the tree one linfa stump per node.
///
/// linfa-trees 0.8.1 fits a whole tree correctly only at the root: below it, a candidate split
/// is evaluated only when the row ending a run of equal values (in the global sort order) is
/// in the node, so e.g. a one-hot split inside a subset is silently skipped and the node
/// becomes a leaf. A depth-1 fit on just the node's rows is always a root, so every node gets
/// linfa's exact best Gini split.
struct Grower<'a> {
    x: &'a Array2<f64>,
    y: &'a [bool],
    names: Vec<String>,
}

impl Grower<'_> {
    fn leaf(&self, idx: Vec<usize>) -> Node {
        let pos = idx.iter().filter(|&&i| self.y[i]).count();
        Node {
            idx,
            pos,
            split: None,
        }
    }

    fn grow(&self, idx: Vec<usize>, depth: usize) -> Result<Node, TreeFitError> {
        let leaf = self.leaf(idx);
        let n = leaf.idx.len();
        if depth >= MAX_DEPTH || n < 2 || leaf.pos == 0 || leaf.pos == n {
            return Ok(leaf);
        }
        let Some((f, s, dec)) = self.stump(&leaf.idx)? else {
            return Ok(leaf);
        };
        let (l, r): (Vec<usize>, Vec<usize>) = leaf.idx.iter().partition(|&&i| self.x[[i, f]] <= s);
        if l.is_empty() || r.is_empty() {
            return Ok(leaf);
        }
        let left_max = l.iter().map(|&i| self.x[[i, f]]).fold(f64::MIN, f64::max);
        let right_min = r.iter().map(|&i| self.x[[i, f]]).fold(f64::MAX, f64::min);
        let (l, r) = (self.grow(l, depth + 1)?, self.grow(r, depth + 1)?);
        // Like linfa's own pruning: a split whose two leaves say the same thing is noise in
        // a rule listing.
        if l.split.is_none() && r.split.is_none() && l.label() == r.label() {
            return Ok(leaf);
        }
        Ok(Node {
            split: Some(Split {
                feature: f,
                decrease: dec,
                left_max,
                right_min,
                left: Box::new(l),
                right: Box::new(r),
            }),
            ..leaf
        })
    }

    /// linfa's best split of `idx` as (feature, value, impurity decrease), None if no split
    /// lowers the Gini impurity.
    fn stump(&self, idx: &[usize]) -> Result<Option<(usize, f64, f64)>, TreeFitError> {
        let rows = self.x.select(ndarray::Axis(0), idx);
        let ys: Array1<bool> = idx.iter().map(|&i| self.y[i]).collect();
        let ds = Dataset::new(rows, ys).with_feature_names(self.names.clone());
        // A report must not take the run down: linfa is third-party code, so a panic inside
        // the fit becomes a sentence rather than an abort.
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            DecisionTree::<f64, bool>::params()
                .max_depth(Some(1))
                .fit(&ds)
        }))
        .map_err(|_| TreeFitError::Panicked)??;
        // split() keeps the chosen split even when linfa prunes two same-label children, and
        // reports a zero decrease when there was no split at all.
        let (f, s, dec) = fitted.root_node().split();
        Ok((dec.is_finite() && dec > 0.0 && f < self.names.len()).then_some((f, s, dec)))
    }
}

/// A leaf with the conditions leading to it.
struct Leaf<'a> {
    path: Vec<Cond>,
    node: &'a Node,
}

struct Printer<'a> {
    feats: &'a [Feature],
    names: (&'a str, &'a str),
    out: String,
}

impl Printer<'_> {
    fn node<'n>(
        &mut self,
        node: &'n Node,
        depth: usize,
        path: &mut Vec<Cond>,
        leaves: &mut Vec<Leaf<'n>>,
    ) {
        let pad = "    ".repeat(depth);
        let Some(sp) = &node.split else {
            let n = node.idx.len();
            let (pos, neg) = (node.pos, n - node.pos);
            let (label, maj) = if node.label() {
                (self.names.0, pos)
            } else {
                (self.names.1, neg)
            };
            let purity = if n == 0 {
                0.0
            } else {
                100.0 * maj as f64 / n as f64
            };
            self.out.push_str(&format!(
                "{pad}→ {label}  [{n} points: {pos} {}, {neg} {}; {purity:.0}% pure]\n",
                self.names.0, self.names.1
            ));
            leaves.push(Leaf {
                path: path.clone(),
                node,
            });
            return;
        };
        let cond = |left: bool| Cond {
            feature: sp.feature,
            left,
            bound: if left { sp.left_max } else { sp.right_min },
        };
        let mut branches = [(cond(true), &sp.left), (cond(false), &sp.right)];
        // One-hot: the "= value" side reads better first.
        if self.feats[sp.feature].value.is_some() {
            branches.swap(0, 1);
        }
        for (k, (c, child)) in branches.into_iter().enumerate() {
            let text = cond_text(self.feats, &c);
            if k == 0 {
                self.out.push_str(&format!("{pad}if {text}:\n"));
            } else {
                self.out.push_str(&format!("{pad}else ({text}):\n"));
            }
            path.push(c);
            self.node(child, depth + 1, path, leaves);
            path.pop();
        }
    }
}

/// Adds each internal node's sample-weighted impurity decrease to its feature.
fn importance(node: &Node, n_total: f64, acc: &mut [f64]) {
    if let Some(sp) = &node.split {
        if let Some(a) = acc.get_mut(sp.feature) {
            *a += node.idx.len() as f64 / n_total * sp.decrease;
        }
        importance(&sp.left, n_total, acc);
        importance(&sp.right, n_total, acc);
    }
}

/// Phrasing of a pure negative leaf, given its points.
pub(super) type NegVerb<'a> = &'a dyn Fn(&[&PointResult]) -> String;

/// Fits and prints one tree. `verbs` = phrasing of pure positive / negative leaves.
pub(super) fn fit_tree(
    pts: &[&PointResult],
    labels: &[bool],
    names: (&str, &str),
    verbs: (&str, NegVerb<'_>),
) -> TreeResult {
    let n = pts.len();
    let pos = labels.iter().filter(|&&b| b).count();
    if n == 0 {
        return TreeResult::Skipped("There are no points to learn from.".into());
    }
    if pos == 0 || pos == n {
        let which = if pos == n { names.0 } else { names.1 };
        return TreeResult::Skipped(format!(
            "All {n} points are \"{which}\": there is nothing for a tree to separate."
        ));
    }
    let feats = features(pts);
    if feats.is_empty() {
        return TreeResult::Skipped(
            "No knob varies among these points, so no rule can separate them.".into(),
        );
    }
    let data: Vec<f64> = pts
        .iter()
        .flat_map(|p| feats.iter().map(|f| f.value_of(&p.config)))
        .collect();
    let x = match Array2::from_shape_vec((n, feats.len()), data) {
        Ok(x) => x,
        Err(e) => return TreeResult::Skipped(format!("Could not build the feature matrix: {e}.")),
    };
    let grower = Grower {
        x: &x,
        y: labels,
        names: feats.iter().map(Feature::name).collect(),
    };
    let root = match grower.grow((0..n).collect(), 0) {
        Ok(r) => r,
        Err(e) => return TreeResult::Skipped(format!("The tree could not be fitted: {e}.")),
    };
    let mut p = Printer {
        feats: &feats,
        names,
        out: String::new(),
    };
    let mut leaves = Vec::new();
    p.node(&root, 0, &mut Vec::new(), &mut leaves);
    let correct: usize = leaves
        .iter()
        .map(|l| l.node.pos.max(l.node.idx.len() - l.node.pos))
        .sum();
    let mut acc = vec![0.0; feats.len()];
    importance(&root, n as f64, &mut acc);
    let total: f64 = acc.iter().sum();
    let mut importances: Vec<(String, f64)> = acc
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v > 0.0 && total > 0.0)
        .map(|(i, v)| (feats[i].name(), v / total))
        .collect();
    importances.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    // Pure, non-trivial leaves become sentences, biggest first.
    let min_n = 2usize.max(n.div_ceil(20));
    let mut pure: Vec<&Leaf> = leaves
        .iter()
        .filter(|l| !l.path.is_empty() && l.node.idx.len() >= min_n)
        .filter(|l| l.node.pos == 0 || l.node.pos == l.node.idx.len())
        .collect();
    pure.sort_by_key(|l| std::cmp::Reverse(l.node.idx.len()));
    let leaf_facts = pure
        .into_iter()
        .take(MAX_LEAF_FACTS)
        .map(|l| {
            let verb = if l.node.pos > 0 {
                verbs.0.to_string()
            } else {
                let members: Vec<&PointResult> = l.node.idx.iter().map(|&i| pts[i]).collect();
                (verbs.1)(&members)
            };
            format!(
                "All {} points with {} {verb}.",
                l.node.idx.len(),
                path_text(&feats, &l.path)
            )
        })
        .collect();
    TreeResult::Fitted(FittedTree {
        leaves: leaves.len(),
        rules: p.out,
        importances,
        accuracy: correct as f64 / n as f64,
        n,
        leaf_facts,
    })
}
