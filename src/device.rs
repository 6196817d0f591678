//! Opening the tensor device for `--backend`, with clean errors instead of burn's panics.

use std::sync::Mutex;

use anyhow::{Result, anyhow, bail};
use burn::prelude::*;
use burn::tensor::wgpu::WgpuBackend;

use burn::tensor::DeviceKind;

use serde::{Deserialize, Serialize};

/// The burn backend that runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's ndarray CPU backend.
    Ndarray,
    /// burn's flex CPU backend, multithreaded and SIMD.
    Flex,
    /// GPU through wgpu (Vulkan, Metal or DX12).
    Wgpu,
}

impl BackendKind {
    /// Every backend, in the order `--help` lists them.
    pub const ALL: [BackendKind; 3] = [BackendKind::Ndarray, BackendKind::Flex, BackendKind::Wgpu];

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "burn's ndarray CPU backend (the plain CPU choice)",
            BackendKind::Flex => {
                "burn's flex CPU backend, multithreaded and SIMD: the fast CPU choice"
            }
            BackendKind::Wgpu => "GPU through wgpu (Vulkan, Metal or DX12)",
        }
    }
}

/// Which wgpu adapter `--device` picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// The best one found (high-power GPUs first).
    #[default]
    Auto,
    /// The n-th discrete GPU (0-based).
    Discrete(usize),
    /// The n-th integrated GPU.
    Integrated(usize),
    /// The n-th virtual GPU.
    Virtual(usize),
    /// A CPU (software) adapter, such as Mesa's lavapipe.
    Cpu,
}

impl std::str::FromStr for Adapter {
    type Err = String;

    /// Parses `auto`, `N` (= `discrete:N`), `discrete:N`, `integrated:N`, `virtual:N` or `cpu`.
    fn from_str(s: &str) -> Result<Adapter, String> {
        let bad = || {
            format!(
                "'{s}' is not an adapter: use auto, N, discrete:N, integrated:N, virtual:N or cpu"
            )
        };
        let index = |n: &str| n.parse::<usize>().map_err(|_| bad());
        Ok(match s.split_once(':') {
            None if s == "auto" => Adapter::Auto,
            None if s == "cpu" => Adapter::Cpu,
            None => Adapter::Discrete(index(s)?),
            Some(("discrete", n)) => Adapter::Discrete(index(n)?),
            Some(("integrated", n)) => Adapter::Integrated(index(n)?),
            Some(("virtual", n)) => Adapter::Virtual(index(n)?),
            Some(_) => return Err(bad()),
        })
    }
}

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

/// Whether `device` is one of burn's host backends (flex, ndarray), which keep tensors in host
/// memory.
///
/// Only the cubecl backends (wgpu, even on a software rasteriser) report a device identity.
pub fn on_host(device: &Device) -> bool {
    device.identity().is_none()
}

/// Sizes the CPU thread pool (flex, ndarray and the data loaders use rayon's global pool).
///
/// The pool is built on first use, so this must run before any parallel work of the process
/// (data loading included). Asking again for the size the pool already has is fine; asking for
/// another size once it exists is an error, not a silent mismatch.
pub fn set_threads(threads: Option<u32>) -> Result<()> {
    let Some(n) = threads else { return Ok(()) };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(n as usize)
        .build_global()
    {
        Ok(()) => Ok(()),
        Err(_) if rayon::current_num_threads() == n as usize => Ok(()),
        Err(e) => bail!(
            "--threads {n}: the thread pool already runs {} threads ({e})",
            rayon::current_num_threads()
        ),
    }
}

/// Runs `work` on one worker thread of the CPU thread pool and waits for it.
///
/// A training loop run from the main thread leaves that thread doing the serial work while the
/// pool's workers (as many as cores) spin for the next parallel kernel, so three threads share
/// two cores; every parallel kernel is also injected into the pool from outside it. Run on a
/// worker, the serial work has a core of its own and the kernels fork from inside. The whole
/// loop stays on that one thread, which burn's batch-norm running statistics need: they keep
/// each thread's latest update apart and average them only when synchronised.
pub fn in_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_pool_runs_the_work_on_one_worker_of_the_pool() {
        use rayon::prelude::*;
        assert_eq!(
            rayon::current_thread_index(),
            None,
            "tests run outside the pool"
        );
        let (first, last) = in_pool(|| {
            let first = rayon::current_thread_index();
            // Parallel work forked from inside does not move the caller to another thread.
            let sum: u64 = (0..100_000u64).into_par_iter().sum();
            assert_eq!(sum, 4_999_950_000);
            (first, rayon::current_thread_index())
        });
        assert!(first.is_some(), "not on a worker");
        assert_eq!(first, last);
    }

    #[test]
    fn adapters_parse() {
        let parse = |s: &str| s.parse::<Adapter>();
        assert_eq!(parse("auto"), Ok(Adapter::Auto));
        assert_eq!(parse("1"), Ok(Adapter::Discrete(1)));
        assert_eq!(parse("integrated:0"), Ok(Adapter::Integrated(0)));
        assert_eq!(parse("cpu"), Ok(Adapter::Cpu));
        for bad in ["gpu", "-1", "discrete:x", "tpu:0", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

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
