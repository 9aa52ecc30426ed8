//! One `cr` run: the child in its PTY, the virtual screen, prompts, the link and the hooks,
//! owned by one `select!` loop. Everything else talks to it over bounded channels.
//!
//! The local terminal never waits for this loop: the PTY reader thread mirrors output before
//! handing it over, and the stdin thread writes keystrokes straight into the PTY.

use std::{io::Write, path::PathBuf, time::Duration};

use anyhow::Result;
use rustix::process::Signal;
use serde_json::Value;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Instant, sleep_until},
};
use tracing::{debug, info, warn};

use cr_proto::{
    Answer, AnsweredBy, Downlink, Event, Input, Prompt, PromptId, PromptSource, PromptStatus,
    Screen, ScreenUpdate, SessionId, SessionMeta, Uplink,
};

use crate::{
    claude::HookTransport,
    config::Credentials,
    detect::detect,
    downlink::{Ledger, Verdict},
    hooks,
    hookserver::{self, HookCall},
    keys::{self, Action, Modes, Stroke, Typist},
    link::{self, LinkEvent, LinkHandle, Outbound},
    now,
    prompt::{Hook, Open, Prompts, Route},
    pty::{Output, OutputRx, Pty, PtyInput, Spawn},
    screen::{ShiftTracker, VirtualScreen},
    uplink::Uplink as Queue,
};

/// Coalescing of screen updates: the first change after a quiet spell goes at once, then at
/// most one update per interval while output keeps coming.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(30);
/// After the child exits, how long to wait for its last output before ending.
pub const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the `ended` event may take to reach the relay before `cr` exits anyway.
pub const ENDED_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// Retry delay for events the link's outbox had no room for.
const FLUSH_RETRY: Duration = Duration::from_millis(50);
/// How long a frame's transcript lines trail its screen update. Sent together, the relay
/// stores the lines (a commit on its writer thread) and fans their `lines` event out while
/// the update is on its way to the phones, and both share the machine's cores: 10 phones'
/// p99 2.1 → 1.4 ms at the median of 12 interleaved rounds each. Any other event (a prompt,
/// an answer's settlement, the end) is sent at once and takes the waiting lines along, in
/// order; during a stream the lines still go once per frame, just later.
const LINES_TRAIL: Duration = Duration::from_millis(5);
/// Resize requests from the terminal waiting for the session.
pub const RESIZE_CAP: usize = 8;

/// What to run and how to reach the relay.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Label for the phone.
    pub name: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// The relay; `None` runs the command unlinked.
    pub credentials: Option<Credentials>,
    /// When the command is `claude`: the `cr` executable its hooks call (`None`: no hooks).
    pub hook_exe: Option<PathBuf>,
    /// How Claude Code's `PermissionRequest` reaches `cr`.
    pub hook_transport: HookTransport,
    /// Initial terminal size (rows, cols).
    pub size: (u16, u16),
}

/// True when `argv` runs Claude Code.
pub fn is_claude(argv: &[String]) -> bool {
    argv.first().and_then(|p| std::path::Path::new(p).file_name()).is_some_and(|n| n == "claude")
}

/// A started session.
pub struct Session {
    config: SessionConfig,
    id: SessionId,
    pty: Pty,
    output: OutputRx,
    exit: oneshot::Receiver<Option<i32>>,
    hooks: Option<mpsc::Receiver<HookCall>>,
    link: Option<LinkHandle>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("pty", &self.pty)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Spawns the child (with hooks when it is Claude Code) and starts the link. Output is
    /// mirrored to `mirror` from the first byte.
    pub async fn start(config: SessionConfig, mirror: Box<dyn Write + Send>) -> Result<Self> {
        let id = SessionId::new(cr_proto::sign::hex(&rand::random::<[u8; 12]>()))
            .expect("hex is a valid id");
        let mut argv = config.argv.clone();
        let mut env = Vec::new();
        let mut hook_rx = None;
        if let Some(exe) = config.hook_exe.as_ref().filter(|_| is_claude(&argv)) {
            let (server, rx) = hookserver::start().await?;
            let transport =
                config.hook_transport.resolve(&argv[0], std::env::var_os("PATH").as_deref());
            let url = (transport == HookTransport::Http).then(|| server.url());
            let ours = hooks::settings(&exe.to_string_lossy(), url.as_deref());
            match hooks::claude_args(&argv[1..], &ours, |p| std::fs::read_to_string(p)) {
                Ok(args) => {
                    env.extend(server.env());
                    argv.truncate(1);
                    argv.extend(args);
                    hook_rx = Some(rx);
                    debug!(addr = %server.addr, ?transport, "hooks on");
                }
                // Dropping `rx` stops the server.
                Err(e) => warn!("running without hooks: {e}"),
            }
        }
        let spec = Spawn { argv, cwd: config.cwd.clone(), env, size: config.size };
        let (pty, output, exit) = Pty::spawn(&spec, mirror)?;
        let link = config.credentials.clone().map(|c| {
            link::spawn(
                c,
                SessionMeta {
                    id: id.clone(),
                    name: config.name.clone(),
                    command: shell_words(&config.argv),
                    cwd: config.cwd.to_string_lossy().into_owned(),
                    started_at: now(),
                },
            )
        });
        info!(session = %id, command = ?config.argv, linked = link.is_some(), "session started");
        Ok(Self { config, id, pty, output, exit, hooks: hook_rx, link })
    }

    /// The session id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Where keystrokes from the local terminal go.
    pub fn input(&self) -> PtyInput {
        self.pty.input()
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<i32> {
        self.pty.pid()
    }

    /// Runs until the child exits; returns its exit code (128+N for signal N).
    pub async fn run(
        self,
        resize: mpsc::Receiver<(u16, u16)>,
        signals: mpsc::Receiver<Signal>,
    ) -> Option<i32> {
        let (rows, cols) = self.config.size;
        let (typed_tx, typed_rx) = mpsc::unbounded_channel();
        let writer = spawn_writer(self.pty.input(), typed_tx);
        let mut core = Core {
            session_id: self.id.clone(),
            pty: self.pty,
            screen: VirtualScreen::new(rows, cols),
            shift: ShiftTracker::default(),
            queue: Queue::default(),
            ledger: Ledger::default(),
            link_tx: self.link.as_ref().map(|l| l.tx.clone()),
            epoch: None,
            relay_screen: None,
            need_snapshot: true,
            frame_due: None,
            last_frame: Instant::now() - FRAME_INTERVAL,
            flush_due: None,
            was_alternate: false,
            prompts: Prompts::new(self.hooks.is_some(), Instant::now()),
            writer,
            next_prompt: 1,
        };
        let exit = core
            .run(
                self.output,
                self.exit,
                self.hooks,
                self.link.map(|l| l.rx),
                typed_rx,
                resize,
                signals,
            )
            .await;
        info!(session = %self.id, ?exit, "session ended");
        exit
    }
}

/// The command line as a user would type it.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A batch of strokes for the writer thread.
type Job = (Vec<Stroke>, Modes);

/// Phone input and typed answers go through one thread, so pauses between strokes never
/// block the session and writes never interleave with each other.
fn spawn_writer(input: PtyInput, done: mpsc::UnboundedSender<()>) -> std::sync::mpsc::Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let _ = std::thread::Builder::new().name("cr-phone-input".into()).spawn(move || {
        while let Ok((strokes, modes)) = rx.recv() {
            let mut prev = None;
            for s in &strokes {
                let (bytes, pause) = keys::stroke_bytes(s, prev, modes);
                std::thread::sleep(pause);
                if input.write(&bytes).is_err() {
                    break;
                }
                prev = Some(s);
            }
            let _ = done.send(());
        }
    });
    tx
}

/// The hook call a prompt may be waiting on: the decision JSON goes back through it.
type HookReply = oneshot::Sender<Value>;

struct Core {
    session_id: SessionId,
    pty: Pty,
    screen: VirtualScreen,
    shift: ShiftTracker,
    queue: Queue,
    ledger: Ledger,
    link_tx: Option<mpsc::Sender<Outbound>>,
    /// The live connection, once welcomed.
    epoch: Option<u64>,
    /// The screen the relay has on this connection.
    relay_screen: Option<Screen>,
    need_snapshot: bool,
    frame_due: Option<Instant>,
    last_frame: Instant,
    flush_due: Option<Instant>,
    was_alternate: bool,
    prompts: Prompts<HookReply>,
    writer: std::sync::mpsc::Sender<Job>,
    next_prompt: u64,
}

impl Core {
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &mut self,
        mut output: OutputRx,
        mut exit: oneshot::Receiver<Option<i32>>,
        mut hooks: Option<mpsc::Receiver<HookCall>>,
        mut link: Option<mpsc::Receiver<LinkEvent>>,
        mut typed: mpsc::UnboundedReceiver<()>,
        mut resize: mpsc::Receiver<(u16, u16)>,
        mut signals: mpsc::Receiver<Signal>,
    ) -> Option<i32> {
        let mut eof = false;
        let code = loop {
            let deadline = self.deadline();
            // In this order: a question or an answer never waits behind a frame of output
            // that arrived with it (Claude Code draws its dialog as it calls the hook), and
            // output, the only branch that can be ready all the time, comes last so it
            // cannot starve the others.
            tokio::select! {
                biased;
                // Claude Code hooks.
                Some(call) = recv(&mut hooks) => self.on_hook(call),
                // The relay: connection changes and messages.
                Some(ev) = recv(&mut link) => self.on_link(ev),
                // The child exited: collect its last output, then end.
                code = &mut exit => break code.ok().flatten(),
                // Timers: frame, settle, flush retry.
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => self.on_timer(),
                // The writer finished a batch of strokes.
                Some(()) = typed.recv() => self.prompts.typed(Instant::now()),
                // The local terminal changed size.
                Some((rows, cols)) = resize.recv() => self.on_resize(rows, cols),
                // SIGTERM/SIGHUP/SIGINT to cr: the child decides what they mean.
                Some(sig) = signals.recv() => self.pty.signal(sig),
                // Program output (already on the local terminal): feed the screen.
                out = output.recv(), if !eof => match out {
                    Some(out) => eof = self.on_output(out),
                    None => eof = true,
                },
            }
        };
        // The child is gone; its last output may still be in the PTY.
        let drain_until = Instant::now() + DRAIN_TIMEOUT;
        while !eof {
            match tokio::time::timeout_at(drain_until, output.recv()).await {
                Ok(Some(out)) => eof = self.on_output(out),
                _ => break,
            }
        }
        self.frame();
        self.finish(code, link.as_mut()).await;
        code
    }

    fn deadline(&self) -> Option<Instant> {
        let settle = self.prompts.deadline(self.frame_due, Instant::now());
        [self.frame_due, self.flush_due, settle].into_iter().flatten().min()
    }

    fn on_output(&mut self, out: Output) -> bool {
        match out {
            // While a stream keeps a frame waiting for its turn (see FRAME_INTERVAL), the
            // emulator takes the output in one piece when that frame (or anything else)
            // reads the screen. Output after a quiet spell is emulated and framed at once.
            Output::Data(bytes) if self.frame_due.is_some_and(|t| t > Instant::now()) => {
                self.screen.feed_later(bytes);
            }
            Output::Data(bytes) => self.screen.feed(&bytes),
            Output::Skipped => {
                self.screen.reset();
                self.shift.reset();
                self.need_snapshot = true;
                self.push(Event::Line {
                    at: now(),
                    line: "[cr: output skipped here: the phone view fell behind a fast stream]"
                        .into(),
                });
            }
            Output::Eof => return true,
        }
        let now = Instant::now();
        self.prompts.output(now);
        if self.frame_due.is_none() {
            self.frame_due = Some(now.max(self.last_frame + FRAME_INTERVAL));
        }
        // The first change after a quiet spell goes at once, without a trip through the timer
        // (whose millisecond ticks would add up to a millisecond to every echo).
        if self.frame_due.is_some_and(|t| t <= now) {
            self.frame();
        }
        false
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.frame_due.is_some_and(|t| t <= now) {
            self.frame();
        }
        if self.flush_due.is_some_and(|t| t <= now) {
            self.flush_due = None;
            self.flush_events();
        }
        if self.prompts.deadline(self.frame_due, now).is_some_and(|t| t <= now) {
            self.on_settled(now);
        }
    }

    /// Turns the emulator's state into an update for the relay, transcript lines and a
    /// detection result.
    fn frame(&mut self) {
        self.frame_due = None;
        self.last_frame = Instant::now();
        let snapshot = self.screen.snapshot();
        if snapshot.alternate != self.was_alternate {
            self.shift.reset();
            self.was_alternate = snapshot.alternate;
        }
        // Every line of the frame is queued, then flushed once: a fast stream's lines travel in
        // a few `events` frames, not one frame per line.
        let at = now();
        for line in self.screen.take_scrolled() {
            self.queue.push(Event::Line { at, line });
        }
        // Full-screen programs scroll their own view: compare every frame (at most one per
        // FRAME_INTERVAL) with the last, so a shift is seen while its rows still overlap.
        // Waiting for output to pause instead missed whole screens of a streamed reply, since
        // Claude Code animates its spinner all the while.
        if snapshot.alternate {
            for line in self.shift.observe(snapshot.lines.iter().map(cr_proto::Row::text).collect())
            {
                self.queue.push(Event::Line { at, line });
            }
        }
        // The screen goes before the lines and the detector: phones show it as it comes, while
        // the relay stores lines before it shows them. Sent first, it does not wait behind the
        // lines' frame at either end of the link; the lines follow LINES_TRAIL later.
        let kept_back = self.send_screen(snapshot);
        self.flush_soon();
        if let Some(shown) = kept_back.as_ref().or(self.relay_screen.as_ref()) {
            let dialog = detect(shown);
            self.prompts.observe(dialog, Instant::now());
        }
    }

    /// Sends `snapshot` to the relay (as an update when it can) and keeps it as what the relay
    /// has; returns it when it was not kept (no link, no change, or a full queue).
    fn send_screen(&mut self, snapshot: Screen) -> Option<Screen> {
        if self.epoch.is_none() {
            return Some(snapshot);
        }
        let msg = match &self.relay_screen {
            Some(old)
                if !self.need_snapshot
                    && old.rows == snapshot.rows
                    && old.cols == snapshot.cols =>
            {
                let update = ScreenUpdate::between(old, &snapshot);
                if update.is_empty() && update.cursor == old.cursor {
                    return Some(snapshot);
                }
                Uplink::Output { output: update }
            }
            _ => Uplink::Screen { screen: snapshot.clone() },
        };
        if self.send(msg) {
            self.need_snapshot = false;
            self.relay_screen = Some(snapshot);
            None
        } else {
            self.need_snapshot = true;
            // The link's queue was full (a burst of output). Without another frame the relay
            // would keep the stale screen until the program prints again, which after the last
            // line of a burst may be never; so try again one frame later.
            if self.link_tx.is_some() {
                self.frame_due = Some(Instant::now() + FRAME_INTERVAL);
            }
            Some(snapshot)
        }
    }

    fn send(&mut self, msg: Uplink) -> bool {
        self.link_tx.is_some() && self.epoch.is_some() && self.send_json(msg.to_json())
    }

    fn send_json(&mut self, json: Vec<u8>) -> bool {
        match (&self.link_tx, self.epoch) {
            (Some(tx), Some(epoch)) => tx.try_send(Outbound { epoch, json }).is_ok(),
            _ => false,
        }
    }

    fn push(&mut self, event: Event) -> u64 {
        let seq = self.queue.push(event);
        self.flush_events();
        seq
    }

    /// Has waiting events sent [`LINES_TRAIL`] from now, unless a flush is already due.
    fn flush_soon(&mut self) {
        if self.epoch.is_some() && self.flush_due.is_none() && self.queue.has_unsent() {
            self.flush_due = Some(Instant::now() + LINES_TRAIL);
        }
    }

    fn flush_events(&mut self) {
        if self.epoch.is_none() {
            return;
        }
        loop {
            let Some((batch, last)) = self.queue.unsent_json() else { return };
            if !self.send_json(batch) {
                self.flush_due = Some(Instant::now() + FLUSH_RETRY);
                return;
            }
            self.queue.mark_sent(last);
        }
    }

    fn on_resize(&mut self, rows: u16, cols: u16) {
        if let Err(e) = self.pty.resize(rows, cols) {
            warn!("{e:#}");
        }
        self.screen.resize(rows, cols);
        self.shift.reset();
        self.need_snapshot = true;
        self.frame();
    }

    fn on_link(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Up { epoch, acked } => {
                self.epoch = Some(epoch);
                self.queue.welcome(acked);
                self.need_snapshot = true;
                let snapshot = self.screen.snapshot();
                self.send_screen(snapshot);
                self.flush_events();
            }
            LinkEvent::Down { epoch } => {
                if self.epoch == Some(epoch) {
                    self.epoch = None;
                    self.relay_screen = None;
                }
            }
            LinkEvent::Downlink(Downlink::Ack { seq }) => self.queue.ack(seq),
            LinkEvent::Downlink(Downlink::Answer { prompt_id, answer }) => {
                self.on_answer(prompt_id, answer)
            }
            LinkEvent::Downlink(Downlink::Input { input }) => self.on_input(&input),
            LinkEvent::Downlink(Downlink::Welcome { .. } | Downlink::Heartbeat) => {}
        }
    }

    fn modes(&mut self) -> Modes {
        Modes {
            application_cursor: self.screen.application_cursor(),
            bracketed_paste: self.screen.bracketed_paste(),
        }
    }

    fn on_input(&mut self, input: &Input) {
        if let Err(e) = input.validate() {
            warn!("phone input refused: {e}");
            return;
        }
        let modes = self.modes();
        let _ = self.writer.send((keys::input_strokes(input), modes));
    }

    fn new_prompt_id(&mut self) -> PromptId {
        let n = self.next_prompt;
        self.next_prompt += 1;
        PromptId::new(format!("{}-{n}", self.session_id)).expect("hex and digits make a valid id")
    }

    /// Settles a prompt on the relay, and releases its hook (if one still waits) with no
    /// decision, so Claude Code's own dialog decides.
    fn close(&mut self, id: &PromptId, status: PromptStatus, by: AnsweredBy) {
        if let Some(o) = self.prompts.remove(id) {
            self.release(o);
        }
        if let Some(ev) = self.ledger.close(id, status, by, now()) {
            info!(prompt = %id, status = status.as_str(), by = by.as_str(), "prompt closed");
            self.push(ev);
        }
    }

    /// Lets a prompt's waiting hook return at once, without a decision.
    fn release(&mut self, open: Open<HookReply>) {
        if let Some(hook) = open.hook {
            let _ = hook.reply.send(hooks::no_decision());
        }
    }

    /// Closes prompts that were settled somewhere else (the keyboard, Claude moving on).
    fn closed_locally(&mut self, gone: Vec<Open<HookReply>>) {
        for o in gone {
            let id = o.id.clone();
            self.release(o);
            self.close(&id, PromptStatus::ResolvedLocally, AnsweredBy::Terminal);
        }
    }

    fn on_hook(&mut self, call: HookCall) {
        match call {
            HookCall::Permission { payload, reply } => {
                let hook = Hook { payload, reply };
                // A screen prompt already shows this dialog: the hook joins it (one card).
                if let Some(id) = self.prompts.joinable() {
                    debug!(prompt = %id, "hook joins the screen prompt");
                    return self.prompts.join(&id, hook);
                }
                let id = self.new_prompt_id();
                let prompt =
                    hooks::prompt_for(&hook.payload, id.clone(), self.session_id.clone(), now());
                info!(prompt = %id, tool = %hook.payload.tool_name, "hook prompt");
                let ev = self.ledger.open(prompt);
                self.prompts.track(Open {
                    id,
                    source: PromptSource::Hook,
                    dialog: None,
                    hook: Some(hook),
                });
                self.push(ev);
            }
            HookCall::State(p) => {
                debug!(event = %p.hook_event_name, "hook event");
                let done = self.prompts.hook_event(&p);
                self.closed_locally(done);
            }
        }
    }

    fn on_answer(&mut self, id: PromptId, answer: Answer) {
        match self.ledger.judge(&id, &answer) {
            Verdict::Apply => {}
            other => {
                info!(prompt = %id, ?other, "answer not applied");
                return;
            }
        }
        // Judge by the screen as it is now, not as it was when it last settled. Without a
        // frame due, no output came since the last one, which judged this very screen.
        if self.frame_due.is_some() {
            self.frame();
        }
        let dialog = match self.prompts.route(&id, &answer, Instant::now()) {
            Route::Hook { decision, hook, open } => {
                if hook.reply.send(decision).is_ok() {
                    self.close(&id, answer.status(), AnsweredBy::Phone);
                    return;
                }
                // The hook call is gone (Claude Code gave up on it): type the answer.
                warn!(prompt = %id, "the hook is gone; typing the answer instead");
                self.prompts.track(*open);
                match self.prompts.route(&id, &answer, Instant::now()) {
                    Route::Type(d) => d,
                    other => return self.unanswered(&id, other),
                }
            }
            Route::Type(d) => d,
            other => return self.unanswered(&id, other),
        };
        match Typist::new(&dialog, &answer) {
            Ok(typist) => {
                // Committed: the prompt is settled by the phone now. The keys go first, so
                // the writer thread wakes before the link does (as the hook's reply above).
                self.prompts.start_typing(typist, Instant::now());
                if self.prompts.typing_due(Instant::now()) {
                    self.step_typist();
                }
                self.close(&id, answer.status(), AnsweredBy::Phone);
            }
            Err(e) => warn!(prompt = %id, "cannot type this answer: {e}"),
        }
    }

    /// An answer that could not be applied: say why, and close the prompt if the keyboard
    /// was first.
    fn unanswered(&mut self, id: &PromptId, route: Route<HookReply>) {
        match route {
            Route::Gone => {
                info!(prompt = %id, "the dialog already left the screen: answered at the keyboard");
                self.close(id, PromptStatus::ResolvedLocally, AnsweredBy::Terminal);
            }
            Route::Refuse(why) => warn!(prompt = %id, "answer not applied: {why}"),
            Route::Hook { .. } | Route::Type(_) => {}
        }
    }

    fn step_typist(&mut self) {
        let snapshot = self.screen.snapshot();
        let modes = self.modes();
        let Some(t) = self.prompts.typist() else { return };
        match t.typist.step(&snapshot) {
            Action::Type(strokes) => {
                t.writing = true;
                let _ = self.writer.send((strokes, modes));
            }
            Action::Done { closed } => {
                info!(closed, "answer typed");
                self.prompts.stop_typing(closed, Instant::now());
            }
            Action::Failed(why) => {
                warn!("answer not typed: {why}");
                self.prompts.stop_typing(true, Instant::now());
            }
        }
    }

    /// The screen has settled: carry out what that means for the prompts.
    fn on_settled(&mut self, now_i: Instant) {
        let settled = self.prompts.settle(now_i);
        if let Some(id) = &settled.joined {
            info!(prompt = %id, "its dialog is on screen");
        }
        if settled.step_typist {
            self.step_typist();
        }
        self.closed_locally(settled.gone);
        let Some(dialog) = settled.open else { return };
        let id = self.new_prompt_id();
        let prompt = Prompt {
            id: id.clone(),
            session_id: self.session_id.clone(),
            source: PromptSource::Screen,
            kind: dialog.kind,
            title: dialog.title.clone(),
            body: dialog.body.clone(),
            options: dialog.prompt_options(),
            created_at: now(),
            status: PromptStatus::Pending,
            by: None,
            tool: dialog.tool.clone(),
            format: dialog.format,
            questions: dialog.questions.clone(),
        };
        info!(prompt = %id, kind = ?dialog.kind, title = %dialog.title, "screen prompt");
        let ev = self.ledger.open(prompt);
        self.prompts.track(Open {
            id,
            source: PromptSource::Screen,
            dialog: Some(dialog),
            hook: None,
        });
        self.push(ev);
    }

    /// The end: expire what is still open, send `ended`, and give the relay a moment to
    /// store it.
    async fn finish(&mut self, code: Option<i32>, link: Option<&mut mpsc::Receiver<LinkEvent>>) {
        for id in self.ledger.open_ids() {
            self.close(&id, PromptStatus::Expired, AnsweredBy::Relay);
        }
        let seq = self.push(Event::Ended { at: now(), exit_code: code });
        let Some(link) = link else { return };
        let until = Instant::now() + ENDED_FLUSH_TIMEOUT;
        while !self.queue.is_acked(seq) {
            match tokio::time::timeout_at(until, link.recv()).await {
                Ok(Some(ev)) => self.on_link(ev),
                _ => break,
            }
            if self.flush_due.take().is_some() {
                self.flush_events();
            }
        }
    }
}

async fn recv<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
