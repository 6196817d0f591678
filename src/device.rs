//! Opening the tensor device for `--backend`, with clean errors instead of burn's panics.

use anyhow::{Result, anyhow};
use burn::prelude::*;
use burn::tensor::wgpu::WgpuBackend;

use crate::cli::BackendKind;

/// An opened device and a human-readable description of it.
pub struct OpenedDevice {
    /// The device tensors are created on (without autodiff).
    pub device: Device,
    /// What it is, for config.json and the console.
    pub description: String,
}

/// Opens the device of `backend`. A missing GPU adapter is an error, not a panic.
pub fn open(backend: BackendKind) -> Result<OpenedDevice> {
    match backend {
        BackendKind::Flex => Ok(OpenedDevice {
            device: Device::flex(),
            description: format!("flex (CPU, {} threads)", rayon::current_num_threads()),
        }),
        BackendKind::Ndarray => Ok(OpenedDevice {
            // Deprecated upstream in favour of flex, but kept: it is the CPU backend users ask for.
            #[allow(deprecated)]
            device: Device::ndarray(),
            description: format!("ndarray (CPU, {} threads)", rayon::current_num_threads()),
        }),
        BackendKind::Wgpu => {
            let device = Device::wgpu_options().graphics_api(native_api()).init().map_err(|e| {
                anyhow!(
                    "no usable GPU adapter for --backend wgpu ({}); use --backend flex or --backend ndarray",
                    one_line(&e.to_string())
                )
            })?;
            let name = device
                .identity()
                .map(|id| id.name)
                .unwrap_or_else(|| "unknown adapter".into());
            Ok(OpenedDevice {
                device,
                description: format!("wgpu ({name})"),
            })
        }
    }
}

/// The platform's native GPU API. Never OpenGL: wgpu's GL path on Mesa's llvmpipe deadlocks
/// ("Could not lock adapter context") instead of failing, so it cannot serve as a fallback.
fn native_api() -> WgpuBackend {
    if cfg!(target_os = "macos") || cfg!(target_os = "ios") {
        WgpuBackend::Metal
    } else if cfg!(target_os = "windows") {
        WgpuBackend::Dx12
    } else {
        WgpuBackend::Vulkan
    }
}

/// Collapses a multi-line message into one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sizes the CPU thread pool (flex and ndarray use rayon's global pool).
pub fn set_threads(threads: Option<u32>) {
    if let Some(n) = threads {
        // Fails only if the pool already exists, which cannot happen before the first tensor op.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global();
    }
}
