//! A progress bar per long Map state, on a terminal only.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::engine::Observer;

/// Maps with fewer items finish before a bar would help.
const MIN_ITEMS: usize = 100;

pub struct MapProgress {
    bars: MultiProgress,
    active: Mutex<HashMap<String, ProgressBar>>,
}

impl MapProgress {
    /// A progress observer when standard error is a terminal; none when piped.
    pub fn for_terminal() -> Option<Arc<dyn Observer>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Arc::new(MapProgress {
            bars: MultiProgress::new(),
            active: Mutex::new(HashMap::new()),
        }))
    }
}

impl Observer for MapProgress {
    fn map_started(&self, state: &str, total: usize) {
        if total < MIN_ITEMS {
            return;
        }
        let bar = self.bars.add(ProgressBar::new(total as u64));
        let style = ProgressStyle::with_template(
            "{msg} {wide_bar} {pos}/{len} items ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(state.to_owned());
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.insert(state.to_owned(), bar);
    }

    fn map_iteration_done(&self, state: &str) {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = active.get(state) {
            bar.inc(1);
        }
    }

    fn map_finished(&self, state: &str) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = active.remove(state) {
            bar.finish_and_clear();
        }
    }
}
