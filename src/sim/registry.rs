//! Container registries in the simulated world: every image is there unless a test says
//! otherwise, and each lookup is counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::platform::{ImageLookup, ImageRegistries};

#[derive(Clone, Default)]
pub struct MemoryRegistries {
    answers: Arc<Mutex<BTreeMap<String, ImageLookup>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl MemoryRegistries {
    /// From now on, a lookup of `image` answers `lookup`.
    pub fn answer(&self, image: &str, lookup: ImageLookup) {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(image.to_string(), lookup);
    }

    /// Every image asked about, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl ImageRegistries for MemoryRegistries {
    async fn lookup(&self, image: &str) -> ImageLookup {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(image.to_string());
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(image)
            .cloned()
            .unwrap_or(ImageLookup::Found)
    }
}
