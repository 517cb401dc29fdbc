//! `fftconv train`: train CNN kernels through FFT convolutions on built-in data (or MNIST),
//! with a progress bar, a summary table, an SVG plot and an optional JSON summary.

use fftconv::nn::tasks::{self, ClassifierConfig, Event, KernelRecoveryConfig, TrainReport};
use fftconv::nn::{idx, Algorithm, FFT};
use fftconv::{Error, Result, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Task: `kernel-recovery`, `shapes`, or `mnist` (needs --mnist DIR).
    #[arg(long)]
    task: Option<String>,
    /// Epochs (default: 8 for kernel-recovery, 6 for shapes and mnist).
    #[arg(long)]
    epochs: Option<usize>,
    /// Write an SVG plot of loss and accuracy (kernel-recovery: loss, kernel error, kernels).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Directory with the four uncompressed MNIST IDX files (implies --task mnist).
    #[arg(long, value_name = "DIR")]
    mnist: Option<PathBuf>,
    /// Use at most this many MNIST training (and test) images.
    #[arg(long)]
    limit: Option<usize>,
    /// Run the classifier's convolutions with the direct loops instead of the FFT path.
    #[arg(long)]
    direct: bool,
    /// Seed of data, initialisation and shuffling.
    #[arg(long)]
    seed: Option<u64>,
    /// Learning rate (default: task's).
    #[arg(long)]
    lr: Option<f64>,
    /// Minibatch size (default: task's).
    #[arg(long)]
    batch: Option<usize>,
}

/// Run `train`.
pub fn run(args: Args) -> Result<ExitCode> {
    let task = match (&args.task, &args.mnist) {
        (Some(t), _) => t.clone(),
        (None, Some(_)) => "mnist".to_string(),
        (None, None) => {
            return Err(Error::invalid(
                "--task",
                "missing; choose kernel-recovery, shapes, or mnist (with --mnist DIR)",
            ))
        }
    };
    if let Some(0) = args.epochs {
        return Err(Error::invalid("--epochs", "must be at least 1"));
    }
    let interactive = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let mut progress = Progress::new(interactive);
    let mut on_event = |e: &Event| progress.event(e);
    let report = match task.as_str() {
        "kernel-recovery" => {
            let mut cfg = KernelRecoveryConfig::default();
            cfg.epochs = args.epochs.unwrap_or(cfg.epochs);
            cfg.seed = args.seed.unwrap_or(cfg.seed);
            cfg.lr = args.lr.unwrap_or(cfg.lr);
            cfg.batch = args.batch.unwrap_or(cfg.batch);
            tasks::kernel_recovery(&cfg, &mut on_event)?
        }
        "shapes" | "mnist" => {
            let mut cfg = ClassifierConfig::default();
            cfg.epochs = args.epochs.unwrap_or(cfg.epochs);
            cfg.seed = args.seed.unwrap_or(cfg.seed);
            cfg.lr = args.lr.unwrap_or(cfg.lr);
            cfg.batch = args.batch.unwrap_or(cfg.batch);
            cfg.algorithm = if args.direct { Algorithm::Direct } else { FFT };
            if task == "shapes" {
                tasks::shapes_task(&cfg, &mut on_event)?
            } else {
                let dir = args.mnist.as_ref().ok_or_else(|| {
                    Error::invalid("--task mnist", "needs --mnist DIR with the MNIST IDX files")
                })?;
                let (train, test) = idx::load_mnist(dir, args.limit)?;
                tasks::classify("mnist", &train, &test, &cfg, &mut on_event)?
            }
        }
        other => {
            return Err(Error::invalid(
                "--task",
                format!("unknown task `{other}`; choose kernel-recovery, shapes, or mnist"),
            ))
        }
    };
    progress.finish();
    print_summary(&report);
    if let Some(path) = &args.plot {
        plot(&report, path)?;
        println!("plot written to {}", path.display());
    }
    if args.json {
        println!("{}", report.to_json());
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar per epoch on stderr, only when both stdout and stderr are terminals.
struct Progress {
    interactive: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(interactive: bool) -> Self {
        Progress {
            interactive,
            bar: None,
        }
    }

    fn event(&mut self, e: &Event) {
        match e {
            Event::EpochStart {
                epoch,
                epochs,
                steps,
            } => {
                let bar = if self.interactive {
                    ProgressBar::new(*steps as u64)
                } else {
                    ProgressBar::hidden()
                };
                bar.set_style(
                    ProgressStyle::with_template(
                        "epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  {elapsed}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("{epoch}/{epochs}"));
                self.bar = Some(bar);
            }
            Event::Step { loss } => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                    b.set_message(format!("loss {loss:.3e}"));
                }
            }
            Event::EpochEnd(s) => {
                if let Some(b) = self.bar.take() {
                    let mut msg = format!("loss {:.3e}", s.train_loss);
                    if let Some(a) = s.test_accuracy {
                        msg += &format!("  test acc {a:.4}");
                    }
                    if let Some(k) = s.kernel_rel_err {
                        msg += &format!("  kernel err {k:.2e}");
                    }
                    b.finish_with_message(msg);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".into(), f)
}

fn print_summary(r: &TrainReport) {
    println!(
        "task {}  ({} convolutions, {} parameters)",
        r.task,
        match r.algorithm {
            Algorithm::Direct => "direct".to_string(),
            a => format!("FFT ({a:?})"),
        },
        r.params
    );
    for l in &r.layers {
        println!("  {l}");
    }
    println!(
        "{:>5}  {:>11}  {:>9}  {:>11}  {:>9}  {:>10}  {:>8}",
        "epoch", "train loss", "train acc", "test loss", "test acc", "kernel err", "seconds"
    );
    for h in &r.history {
        println!(
            "{:>5}  {:>11.4e}  {:>9}  {:>11}  {:>9}  {:>10}  {:>8.1}",
            h.epoch,
            h.train_loss,
            opt(h.train_accuracy, |v| format!("{v:.4}")),
            opt(h.test_loss, |v| format!("{v:.4e}")),
            opt(h.test_accuracy, |v| format!("{v:.4}")),
            opt(h.kernel_rel_err, |v| format!("{v:.2e}")),
            h.seconds
        );
    }
    println!(
        "final loss {:.4e} after {} epochs in {:.1} s",
        r.final_loss, r.epochs, r.seconds
    );
    if let Some(a) = r.test_accuracy {
        println!("test accuracy {a:.4}");
    }
    if let Some(k) = &r.kernel {
        println!(
            "kernel_rel_err {:.2e} (bias max err {:.1e}); FFT vs direct: per-step losses differ by at most {:.2e} (relative), weights by {:.1e}",
            k.kernel_rel_err, k.bias_max_err, k.fft_vs_direct_max_rel_diff, k.fft_vs_direct_max_weight_diff
        );
        print_kernels(&k.teacher, &k.learned);
    }
}

/// Teacher and learned kernels of input channel 0 side by side, one output channel per block.
fn print_kernels(teacher: &Tensor, learned: &Tensor) {
    let s = teacher.shape();
    let (c_out, k) = (s[0], s[2]);
    println!("kernels of input channel 0: teacher | learned");
    for o in 0..c_out {
        println!("output channel {o}:");
        for i in 0..k {
            let row = |t: &Tensor| {
                (0..k)
                    .map(|j| format!("{:>7.3}", t.get(&[o, 0, i, j])))
                    .collect::<Vec<_>>()
                    .join("")
            };
            println!("  {}   |  {}", row(teacher), row(learned));
        }
    }
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::file(path.display(), format!("cannot draw the plot: {e}"))
}

fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || hi <= 0.0 {
        return 1e-3..1.0;
    }
    (lo * 0.5)..(hi * 2.0)
}

/// Draw loss (log scale) and accuracy or kernel error per epoch; for kernel recovery also the
/// teacher and learned kernels of input channel 0 as heat maps.
fn plot(r: &TrainReport, path: &Path) -> Result<()> {
    let height = if r.kernel.is_some() { 720 } else { 420 };
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let title = format!(
        "fftconv train --task {} ({:?} convolutions)",
        r.task, r.algorithm
    );
    let root = root
        .titled(&title, ("sans-serif", 22))
        .map_err(|e| plot_err(path, e))?;
    let (top, bottom) = if r.kernel.is_some() {
        root.split_vertically(400)
    } else {
        root.split_vertically(height - 30)
    };
    let (left, right) = top.split_horizontally(550);

    // Loss per step.
    let n = r.step_losses.len().max(2);
    let direct = r.kernel.as_ref().map(|k| k.direct_step_losses.clone());
    let all = r.step_losses.iter().chain(direct.iter().flatten()).copied();
    let mut chart = ChartBuilder::on(&left)
        .caption("training loss per step", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n, log_range(all).log_scale())
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| plot_err(path, e))?;
    let pos = |v: f64| v.max(f64::MIN_POSITIVE);
    let width = if direct.is_some() { 2 } else { 1 };
    let main_label = match r.algorithm {
        Algorithm::Direct => "minibatch (direct)",
        _ if direct.is_some() => "FFT",
        _ => "minibatch (FFT)",
    };
    chart
        .draw_series(LineSeries::new(
            r.step_losses.iter().enumerate().map(|(i, &v)| (i, pos(v))),
            BLUE.mix(0.6).stroke_width(width),
        ))
        .map_err(|e| plot_err(path, e))?
        .label(main_label)
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(width))
        });
    if direct.is_none() && !r.history.is_empty() {
        // Epoch means (train) and test loss, at the step where each epoch ends.
        let per_epoch = r.step_losses.len() / r.history.len();
        let train: Vec<(usize, f64)> = r
            .history
            .iter()
            .map(|h| (h.epoch * per_epoch, pos(h.train_loss)))
            .collect();
        chart
            .draw_series(LineSeries::new(train.clone(), BLACK.stroke_width(3)))
            .map_err(|e| plot_err(path, e))?
            .label("train (epoch mean)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        let test: Vec<(usize, f64)> = r
            .history
            .iter()
            .filter_map(|h| h.test_loss.map(|v| (h.epoch * per_epoch, pos(v))))
            .collect();
        chart
            .draw_series(LineSeries::new(test.clone(), RED.stroke_width(3)))
            .map_err(|e| plot_err(path, e))?
            .label("test")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(3)));
        chart
            .draw_series(test.iter().map(|&p| Circle::new(p, 4, RED.filled())))
            .map_err(|e| plot_err(path, e))?;
    }
    if let Some(d) = &direct {
        chart
            .draw_series(
                d.iter()
                    .enumerate()
                    .map(|(i, &v)| Circle::new((i, pos(v)), 3, RED.stroke_width(1))),
            )
            .map_err(|e| plot_err(path, e))?
            .label("direct")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))?;

    // Accuracy or kernel error per epoch.
    let epochs = r.history.len().max(1);
    if r.kernel.is_some() {
        let errs: Vec<(usize, f64)> = r
            .history
            .iter()
            .filter_map(|h| h.kernel_rel_err.map(|e| (h.epoch, pos(e))))
            .collect();
        let mut c = ChartBuilder::on(&right)
            .caption("kernel relative error per epoch", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(
                0..epochs + 1,
                log_range(errs.iter().map(|e| e.1)).log_scale(),
            )
            .map_err(|e| plot_err(path, e))?;
        c.configure_mesh()
            .x_desc("epoch")
            .y_desc("‖w − w_teacher‖ / ‖w_teacher‖")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        c.draw_series(LineSeries::new(errs.clone(), GREEN.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?;
        c.draw_series(errs.iter().map(|&p| Circle::new(p, 4, GREEN.filled())))
            .map_err(|e| plot_err(path, e))?;
    } else {
        let mut c = ChartBuilder::on(&right)
            .caption("accuracy per epoch", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0..epochs + 1, 0.0..1.0)
            .map_err(|e| plot_err(path, e))?;
        c.configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy")
            .draw()
            .map_err(|e| plot_err(path, e))?;
        for (name, color, pick) in [("train", BLUE, 0usize), ("test", RED, 1usize)] {
            let pts: Vec<(usize, f64)> = r
                .history
                .iter()
                .filter_map(|h| {
                    let v = if pick == 0 {
                        h.train_accuracy
                    } else {
                        h.test_accuracy
                    };
                    v.map(|v| (h.epoch, v))
                })
                .collect();
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| plot_err(path, e))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| plot_err(path, e))?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| plot_err(path, e))?;
    }

    // Kernels: teacher (top row) and learned (bottom row), input channel 0.
    if let Some(k) = &r.kernel {
        let s = k.teacher.shape();
        let (c_out, ks) = (s[0], s[2]);
        let scale = k.teacher.max_abs().max(1e-300);
        bottom
            .draw(&Text::new(
                "kernels of input channel 0 per output channel — top: teacher, bottom: learned (red +, blue −)",
                (20, 5),
                ("sans-serif", 16),
            ))
            .map_err(|e| plot_err(path, e))?;
        let cell = 22i32;
        for (row, t) in [&k.teacher, &k.learned].into_iter().enumerate() {
            for o in 0..c_out {
                let x0 = 20 + o as i32 * (ks as i32 * cell + 30);
                let y0 = 35 + row as i32 * (ks as i32 * cell + 25);
                for i in 0..ks {
                    for j in 0..ks {
                        let v = (t.get(&[o, 0, i, j]) / scale).clamp(-1.0, 1.0);
                        let fade = (255.0 * (1.0 - v.abs())) as u8;
                        let color = if v >= 0.0 {
                            RGBColor(255, fade, fade)
                        } else {
                            RGBColor(fade, fade, 255)
                        };
                        let (x, y) = (x0 + j as i32 * cell, y0 + i as i32 * cell);
                        bottom
                            .draw(&Rectangle::new(
                                [(x, y), (x + cell, y + cell)],
                                color.filled(),
                            ))
                            .map_err(|e| plot_err(path, e))?;
                    }
                }
            }
        }
    }
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}
