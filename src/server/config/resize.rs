//! `UPLOAD_RESIZE_MAX_PIXELS` / `UPLOAD_RESIZE_QUALITY`: the page may shrink
//! an image itself (canvas re-encoding) instead of refusing it. Off unless
//! `UPLOAD_RESIZE_MAX_PIXELS` is set; announced in `GET /api/config`. The
//! server signs what the page sends, so this only changes what the page
//! does, never what the server accepts.

use super::limits::ranged;
use super::{error, ConfigError, Vars};

/// How the page fits an image that is over the size or pixel limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    /// Largest width × height the page keeps; larger images are scaled down.
    pub max_pixels: u64,
    /// JPEG/WebP quality of the re-encoded image, in percent.
    pub quality_percent: u8,
}

impl Resize {
    pub(super) fn load(vars: &Vars) -> Result<Option<Self>, ConfigError> {
        // Up to a 200-megapixel camera; 0 (the default) turns resizing off.
        let max_pixels = ranged(
            vars,
            "UPLOAD_RESIZE_MAX_PIXELS",
            0,
            0..=200_000_000,
            "pixels",
        )?;
        let quality_percent = ranged(vars, "UPLOAD_RESIZE_QUALITY", 85, 1..=100, "percent")?;
        if max_pixels == 0 {
            return Ok(None);
        }
        // Below 64×64 nothing recognisable is left of a photo.
        if max_pixels < 4096 {
            return Err(error(format!(
                "UPLOAD_RESIZE_MAX_PIXELS={max_pixels} is below 4096 (64×64); set 0 to turn resizing off"
            )));
        }
        Ok(Some(Resize {
            max_pixels,
            quality_percent,
        }))
    }

    /// The `"resize"` member of `GET /api/config`: `{"maxPixels", "quality"}`
    /// with quality from 0 to 1, as `canvas.toBlob` takes it.
    pub fn json(resize: Option<&Resize>) -> String {
        match resize {
            None => "null".to_owned(),
            Some(r) => format!(
                "{{\"maxPixels\":{},\"quality\":{}}}",
                r.max_pixels,
                f64::from(r.quality_percent) / 100.0
            ),
        }
    }
}
