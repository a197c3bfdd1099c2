/**
 * Rows waiting for the capture writer, written in batches (one SQLite transaction each): after `flushMs`, or at
 * once when a batch is full. Past `maxQueue` the writer is behind: `shed` lightens what is queued (bodies go first,
 * metadata stays) and `onBacklog` says so once per incident. Each queued item is shed at most once, so a long
 * backlog does not turn every further record into a scan of the queue.
 */
export interface BatchQueueOptions<T> {
  batchRows: number;
  maxQueue: number;
  flushMs: number;
  /** Writes one batch; a throw drops the batch and is reported through onWriteError. */
  write(batch: T[]): void;
  shed(item: T): void;
  onBacklog(queued: number): void;
  onWriteError(rows: number, e: Error): void;
}

export class BatchQueue<T> {
  private queue: T[] = [];
  private shedFrom = 0;
  private timer: NodeJS.Timeout | undefined;
  private backlogReported = false;
  private closed = false;
  droppedBatches = 0;

  constructor(private readonly opts: BatchQueueOptions<T>) {}

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    if (this.queue.length > this.opts.maxQueue) this.shedAll();
    if (this.queue.length >= this.opts.batchRows) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => this.flush());
    } else this.schedule();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.shedFrom = 0;
    try {
      this.opts.write(batch);
    } catch (e) {
      this.droppedBatches++;
      this.opts.onWriteError(batch.length, e as Error);
    }
    if (this.queue.length < this.opts.maxQueue / 2) this.backlogReported = false;
    if (this.queue.length) this.schedule();
  }

  /** Writes what is queued and takes no more. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  private shedAll(): void {
    for (let i = this.shedFrom; i < this.queue.length; i++) this.opts.shed(this.queue[i]);
    this.shedFrom = this.queue.length;
    if (!this.backlogReported) {
      this.backlogReported = true;
      this.opts.onBacklog(this.queue.length);
    }
  }
}
