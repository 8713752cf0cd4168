/**
 * Stopping GraphicsMagick in the middle of an operation. Its progress monitor is one
 * process-wide handler (`SetMonitorHandler`), called on the thread that runs the operation
 * every 1% or so of each pass (about 350 times for one decode, resize and encode); an operation
 * stops when the handler returns 0. A Deno callback, though, always runs on the thread of the
 * isolate that made it: called from another thread, that thread blocks until the owner's event
 * loop has run it. So no worker can own the handler (a busy worker would stall every other
 * one); the pool's thread owns it.
 *
 * That round trip on every tick cost 20–35% of the CPU of an image. So while no job is being
 * cancelled, the installed handler is GraphicsMagick's own `MagickMonitorActive`, which takes
 * no arguments and answers 1 (pass) because a handler is installed: no native code of ours, no
 * thread crossing, a few nanoseconds a tick. Only while some job is cancelled and has not
 * stopped does the Deno callback take its place; the running operations pick it up at their
 * next tick (GraphicsMagick reads the handler at every tick) and it stops the cancelled ones.
 * A handler stays installed while a pool is open: GraphicsMagick looks at whether one exists
 * once, when an operation (or pass) starts, so installing one only at the deadline would not
 * stop the operation already running.
 *
 * The callback learns which job is calling from the text GraphicsMagick passes, which starts
 * with the image's file name in brackets ("[impressionist-job-7] Blur columns…"): the decoder
 * names every image after its job (`jobImageName`). Operations whose text carries no name
 * (GraphicsMagick's blob writer clears it) cannot be stopped this way.
 *
 * @module
 */
import { cString } from "./api.ts";
import { graphicsmagick } from "./dialects.ts";

const PREFIX = "impressionist-job-";

/** The file name given to the images of job `job`, which the monitor text carries. */
export function jobImageName(job: number): string {
  return `${PREFIX}${job}`;
}

const namePattern = new RegExp(`^\\[${PREFIX}(\\d+)\\]`);

/** Stops the GraphicsMagick operations of the jobs it is told to, from the pool's thread. */
export interface GraphicsMagickInterrupter {
  /** A pool starts using the handler (installed while any pool is open). */
  open(): void;
  close(): void;
  interrupt(job: number): void;
  forget(job: number): void;
}

let shared: GraphicsMagickInterrupter | undefined;

/** The process's one interrupter (the handler it drives is process-wide too). */
export function graphicsMagickInterrupter(): GraphicsMagickInterrupter {
  shared ??= createInterrupter();
  return shared;
}

const monitorDefinition = {
  // MagickPassFail (*)(const char *text, magick_int64_t quantum, magick_uint64_t span,
  //                    ExceptionInfo *exception)
  parameters: ["pointer", "i64", "u64", "pointer"],
  result: "u32",
} as const;

/** RTLD_NOW | RTLD_NOLOAD: the library is already loaded; only its handle is wanted. */
const RTLD_NOW_NOLOAD = 0x2 | 0x4;

/** The address of `MagickMonitorActive` in the loaded GraphicsMagick core library. */
function passingHandler(soname: string): Deno.PointerObject {
  const { symbols: dl } = Deno.dlopen("libc.so.6", {
    dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  });
  const handle = dl.dlopen(cString(soname), RTLD_NOW_NOLOAD);
  const address = handle && dl.dlsym(handle, cString("MagickMonitorActive"));
  if (!address) throw new Error(`${soname} has no MagickMonitorActive`);
  return address;
}

/** What the process-wide handler is now: none, the passing one or the Deno callback. */
type Installed = "none" | "passing" | "callback";

function createInterrupter(): GraphicsMagickInterrupter {
  const cancelled = new Set<number>();
  let handler: { install(which: Installed): void } | undefined;
  const open = () => {
    // As in library.ts: OpenMP reads this when the library pulls libgomp in, and this may be
    // the first load in the process; its spinning threads crash the process at exit otherwise.
    Deno.env.set("OMP_NUM_THREADS", "1");
    // The symbol lives in the core library; the wand library the workers load pulls it in.
    const soname = graphicsmagick.sonames[0];
    const { symbols } = Deno.dlopen(soname, {
      SetMonitorHandler: { parameters: ["function"], result: "pointer" },
    });
    const passing = passingHandler(soname);
    const callback = new Deno.UnsafeCallback(monitorDefinition, (text) => {
      const match = text && namePattern.exec(Deno.UnsafePointerView.getCString(text));
      return match && cancelled.has(Number(match[1])) ? 0 : 1;
    });
    return {
      install(which: Installed) {
        const pointers = { none: null, passing, callback: callback.pointer };
        symbols.SetMonitorHandler(pointers[which]);
        // Referenced, the callback wakes this thread's event loop when a worker calls it; left
        // referenced, it would keep the process alive.
        if (which === "callback") callback.ref();
        else callback.unref();
      },
    };
  };
  let users = 0;
  return {
    open() {
      if (users++ > 0) return;
      handler ??= open();
      handler.install(cancelled.size > 0 ? "callback" : "passing");
    },
    close() {
      if (--users === 0) handler?.install("none");
    },
    interrupt(job) {
      cancelled.add(job);
      if (cancelled.size === 1 && users > 0) handler?.install("callback");
    },
    forget(job) {
      if (cancelled.delete(job) && cancelled.size === 0 && users > 0) {
        handler?.install("passing");
      }
    },
  };
}
