/**
 * Stopping GraphicsMagick in the middle of an operation. Its progress monitor is one
 * process-wide handler (`SetMonitorHandler`), called on the thread that runs the operation;
 * an operation stops when the handler returns 0. A Deno callback, though, always runs on the
 * thread of the isolate that made it: called from another thread, that thread blocks until the
 * owner's event loop has run it. So no worker can own the handler (a busy worker would stall
 * every other one); the pool's thread owns it. It stays installed while a pool is open:
 * GraphicsMagick looks at whether a handler exists once, when an operation starts, so one
 * installed only at the deadline would not stop the operation already running. The cost is a
 * call into the pool's thread every few rows of an operation.
 *
 * The handler learns which job is calling from the text GraphicsMagick passes, which starts
 * with the image's file name in brackets ("[impressionist-job-7] Blur columns…"): the decoder
 * names every image after its job (`jobImageName`). Operations whose text carries no name
 * (GraphicsMagick's blob writer clears it) cannot be stopped this way.
 *
 * @module
 */
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

function createInterrupter(): GraphicsMagickInterrupter {
  const cancelled = new Set<number>();
  let handler:
    | { install(on: boolean): void }
    | undefined;
  const open = () => {
    // As in library.ts: OpenMP reads this when the library pulls libgomp in, and this may be
    // the first load in the process; its spinning threads crash the process at exit otherwise.
    Deno.env.set("OMP_NUM_THREADS", "1");
    // The symbol lives in the core library; the wand library the workers load pulls it in.
    const { symbols } = Deno.dlopen(graphicsmagick.sonames[0], {
      SetMonitorHandler: { parameters: ["function"], result: "pointer" },
    });
    const callback = new Deno.UnsafeCallback(monitorDefinition, (text) => {
      const match = text && namePattern.exec(Deno.UnsafePointerView.getCString(text));
      return match && cancelled.has(Number(match[1])) ? 0 : 1;
    });
    return {
      install(on: boolean) {
        symbols.SetMonitorHandler(on ? callback.pointer : null);
        // Referenced, the callback wakes this thread's event loop when a worker calls it; left
        // referenced, it would keep the process alive.
        if (on) callback.ref();
        else callback.unref();
      },
    };
  };
  let users = 0;
  return {
    open() {
      if (users++ > 0) return;
      handler ??= open();
      handler.install(true);
    },
    close() {
      if (--users === 0) handler?.install(false);
    },
    interrupt(job) {
      cancelled.add(job);
    },
    forget(job) {
      cancelled.delete(job);
    },
  };
}
