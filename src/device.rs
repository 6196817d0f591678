//! Opening the tensor device for `--backend`, with clean errors instead of burn's panics.

use std::sync::Mutex;

use anyhow::{Result, anyhow, bail};
use burn::prelude::*;
use burn::tensor::wgpu::WgpuBackend;

use burn::tensor::DeviceKind;

use crate::cli::{Adapter, BackendKind};

/// An opened device and a human-readable description of it.
pub struct OpenedDevice {
    /// The device tensors are created on (without autodiff).
    pub device: Device,
    /// What it is, for config.json and the console.
    pub description: String,
}

/// Opens the device of `backend` (`adapter` picks wgpu's). A missing GPU adapter is an error,
/// not a panic.
pub fn open(backend: BackendKind, adapter: Adapter) -> Result<OpenedDevice> {
    if backend != BackendKind::Wgpu && adapter != Adapter::Auto {
        bail!("--device picks a wgpu adapter; it needs --backend wgpu");
    }
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
            // wgpu registers one runtime per adapter and process: reuse it once opened.
            static OPENED: Mutex<Vec<(Adapter, Device, String)>> = Mutex::new(Vec::new());
            let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, device, description)) = opened.iter().find(|(a, ..)| *a == adapter) {
                return Ok(OpenedDevice {
                    device: device.clone(),
                    description: description.clone(),
                });
            }
            let kind = match adapter {
                Adapter::Auto => DeviceKind::DefaultDevice,
                Adapter::Discrete(n) => DeviceKind::DiscreteGpu(n),
                Adapter::Integrated(n) => DeviceKind::IntegratedGpu(n),
                Adapter::Virtual(n) => DeviceKind::VirtualGpu(n),
                Adapter::Cpu => DeviceKind::Cpu,
            };
            let which = match adapter {
                Adapter::Auto => "no usable GPU adapter".to_string(),
                other => format!("no usable {other:?} adapter").to_lowercase(),
            };
            let device = Device::wgpu_options()
                .graphics_api(native_api())
                .device_kind(kind)
                .init()
                .map_err(|e| {
                    anyhow!(
                        "{which} for --backend wgpu ({}); use --backend ndarray or flex (CPU){}",
                        short_reason(&e.to_string()),
                        if adapter == Adapter::Auto {
                            ""
                        } else {
                            ", or another --device"
                        }
                    )
                })?;
            let name = device
                .identity()
                .map(|id| id.name)
                .unwrap_or_else(|| "unknown adapter".into());
            let description = format!("wgpu ({name})");
            opened.push((adapter, device.clone(), description.clone()));
            Ok(OpenedDevice {
                device,
                description,
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

/// wgpu's error on one line, with its debug dump of the adapters reduced to names and kinds.
fn short_reason(s: &str) -> String {
    let s = one_line(s);
    let Some((head, dump)) = s.split_once("adapters [") else {
        return s;
    };
    let field = |chunk: &str, key: &str, end: char| -> Option<String> {
        let rest = &chunk[chunk.find(key)? + key.len()..];
        Some(rest[..rest.find(end)?].to_string())
    };
    let found: Vec<String> = dump
        .split("AdapterInfo {")
        .filter_map(|chunk| {
            let name = field(chunk, "name: \"", '"')?;
            let kind = field(chunk, "device_type: ", ',').unwrap_or_default();
            Some(format!("{name} [{kind}]"))
        })
        .collect();
    format!(
        "{}; adapters found: {}",
        head.trim_end_matches([' ', ',']),
        found.join(", ")
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_dump_is_reduced_to_names() {
        let e = "No adapter available for WgpuDevice { kind: DiscreteGpu(3), backend: Vulkan }: No Discrete GPU device found, adapters [AdapterInfo { name: \"llvmpipe (LLVM 15.0.6, 256 bits)\", vendor: 65541, device_type: Cpu, driver: \"llvmpipe\" }]";
        let short = short_reason(e);
        assert!(
            short.ends_with("adapters found: llvmpipe (LLVM 15.0.6, 256 bits) [Cpu]"),
            "{short}"
        );
        assert!(!short.contains("vendor"), "{short}");
    }
}
