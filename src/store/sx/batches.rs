//! Which `.data` requests read a run of a file's blocks, and from which nodes: pure, so the
//! plan is unit-tested apart from the network.
//!
//! SX lists each block's holders in its own order (per block, by hash), so grouping blocks
//! whose holder lists are equal cut a replica-2 file into batches of one or two blocks.
//! A batch here is a run of adjacent blocks with holders in common, and it goes first to the
//! common holder that has been given the fewest batches so far: the reads spread over every
//! node that holds the data, and each batch keeps the other common holders for failover.

use std::ops::Range;

/// Most blocks per `.data` download (SX `DOWNLOAD_MAX_BLOCKS`).
pub const MAX_BLOCKS: usize = 30;
/// Most bytes per `.data` download: a batch is held in memory whole, so this times the
/// batches in flight bounds what one read buffers.
pub const MAX_BYTES: u64 = 4 << 20;

/// One `.data` request: blocks `blocks` of the file, and the nodes holding all of them, the
/// one to ask first at the front.
#[derive(Debug, PartialEq, Eq)]
pub struct Batch {
    pub blocks: Range<usize>,
    pub nodes: Vec<String>,
}

/// Most blocks of `block_size` bytes in one batch.
pub fn per_batch(block_size: u64) -> usize {
    ((MAX_BYTES / block_size.max(1)) as usize).clamp(1, MAX_BLOCKS)
}

/// The batches that read `range` of `holders` (each block's nodes, in the file's order).
pub fn plan<H: AsRef<[String]>>(holders: &[H], range: Range<usize>, block_size: u64) -> Vec<Batch> {
    let per_batch = per_batch(block_size);
    let mut given: Vec<(String, usize)> = Vec::new();
    let mut batches = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let mut common = holders[i].as_ref().to_vec();
        // Keep failover possible: a batch of a replicated block keeps two common holders.
        let keep = common.len().min(2);
        let mut j = i + 1;
        while j < range.end && j - i < per_batch {
            let narrowed: Vec<String> = common
                .iter()
                .filter(|n| holders[j].as_ref().contains(n))
                .cloned()
                .collect();
            if narrowed.len() < keep.max(1) {
                break;
            }
            common = narrowed;
            j += 1;
        }
        // Least-loaded first; among equals, SX's order for the first block.
        let load = |node: &String| {
            given
                .iter()
                .find(|(n, _)| n == node)
                .map_or(0, |(_, count)| *count)
        };
        common.sort_by_key(load);
        if let Some(first) = common.first() {
            match given.iter_mut().find(|(n, _)| n == first) {
                Some((_, count)) => *count += 1,
                None => given.push((first.clone(), 1)),
            }
        }
        batches.push(Batch {
            blocks: i..j,
            nodes: common,
        });
        i = j;
    }
    batches
}

/// `nodes` with those that failed lately moved to the end (kept as the last resort, since
/// the failure may be over).
pub fn failed_last(mut nodes: Vec<String>, failed_lately: impl Fn(&str) -> bool) -> Vec<String> {
    nodes.sort_by_key(|n| failed_lately(n));
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    /// Holders of a replica-2 file on two nodes, in the per-block order SX gives.
    fn two_node_file(orders: &[u8]) -> Vec<Vec<String>> {
        orders
            .iter()
            .map(|o| match o {
                0 => nodes(&["a", "b"]),
                _ => nodes(&["b", "a"]),
            })
            .collect()
    }

    #[test]
    fn holders_in_another_order_still_share_a_batch() {
        let holders = two_node_file(&[0, 1, 1, 0, 1, 0, 0, 1]);
        let batches = plan(&holders, 0..8, 4096);
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!(batches[0].blocks, 0..8);
        assert_eq!(batches[0].nodes.len(), 2);
    }

    #[test]
    fn batches_alternate_between_the_nodes_holding_them() {
        let holders = two_node_file(&[0; 100]);
        let batches = plan(&holders, 0..100, 4096);
        let sizes: Vec<usize> = batches.iter().map(|b| b.blocks.len()).collect();
        assert_eq!(sizes, [30, 30, 30, 10]);
        let first: Vec<&str> = batches.iter().map(|b| b.nodes[0].as_str()).collect();
        assert_eq!(first, ["a", "b", "a", "b"]);
        // Each batch can fail over to the other replica.
        assert!(batches.iter().all(|b| b.nodes.len() == 2));
    }

    #[test]
    fn big_blocks_make_smaller_batches() {
        let holders = two_node_file(&[0; 10]);
        let batches = plan(&holders, 0..10, 1 << 20);
        let sizes: Vec<usize> = batches.iter().map(|b| b.blocks.len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        // A block bigger than the byte cap is still read, alone.
        assert_eq!(plan(&holders, 0..2, 8 << 20).len(), 2);
    }

    #[test]
    fn a_batch_keeps_two_holders_to_fail_over_to() {
        // Three nodes, replica 2: b is common to the first two blocks, then only c.
        let holders = vec![nodes(&["a", "b"]), nodes(&["b", "c"]), nodes(&["c", "b"])];
        let batches = plan(&holders, 0..3, 4096);
        let runs: Vec<Range<usize>> = batches.iter().map(|b| b.blocks.clone()).collect();
        assert_eq!(runs, [0..1, 1..3]);
        assert!(batches.iter().all(|b| b.nodes.len() == 2), "{batches:?}");
    }

    #[test]
    fn blocks_on_one_node_each_are_batched_by_node() {
        let holders = vec![nodes(&["a"]), nodes(&["a"]), nodes(&["b"]), nodes(&["a"])];
        let batches = plan(&holders, 1..4, 4096);
        assert_eq!(
            batches,
            [
                Batch {
                    blocks: 1..2,
                    nodes: nodes(&["a"])
                },
                Batch {
                    blocks: 2..3,
                    nodes: nodes(&["b"])
                },
                Batch {
                    blocks: 3..4,
                    nodes: nodes(&["a"])
                },
            ]
        );
    }

    #[test]
    fn nodes_that_failed_lately_are_asked_last() {
        let order = failed_last(nodes(&["a", "b", "c"]), |n| n == "a");
        assert_eq!(order, ["b", "c", "a"]);
    }
}
