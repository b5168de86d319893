/**
 * Requests for the simulator, one per task type, seeded. They go through the real analyser
 * (real tokenizer), so the router sees exactly what it would see in production.
 */
import type { TaskType } from '../config/schema.ts';
import type { RandomSource } from '../lib/random.ts';
import type { ChatRequest } from '../types/openai.ts';
import type { MmluItem } from './mmlu-workload.ts';
import type { Scenario } from './scenario.ts';

export type WorkloadTask = Exclude<TaskType, 'creative_writing'>;

/** One request of a workload; `item` is the labelled question it asks, when answers are scored. */
export interface DrawnRequest {
  task?: WorkloadTask;
  request: ChatRequest;
  item?: MmluItem;
}

/** What the runner needs from a workload: when the next request arrives, and what it asks. */
export interface RequestSource {
  /** Simulated time (ms) of the next arrival after `afterMs`. */
  nextArrivalMs(afterMs: number): number;
  next(model: string): DrawnRequest;
}

const questions = [
  'Python 列表推导式怎么写?',
  'What is the capital of Australia?',
  'How many days are in a leap year?',
  '光速是多少？',
  'Which is larger, 2^10 or 10^3?',
  'What does HTTP 429 mean?',
];

const codingAsks = [
  '帮我写一个 Redis 连接池的实现,要求线程安全',
  'Write a TypeScript function that debounces another function, with tests.',
  'Fix this bug: my Go server panics with "concurrent map writes" under load.',
  'Implement an LRU cache in Rust with O(1) get and put.',
];

// A 1x1 PNG: the image's content does not matter to routing, only that there is one.
const tinyImage =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const documentSentence =
  'The quarterly report describes revenue by region, the growth of the subscription business, costs of ' +
  'infrastructure and support, hiring plans, risks from currency movements and the outlook for next year. ';

/** The brief's synthetic task mix at a constant Poisson rate. */
export class Workload implements RequestSource {
  private readonly document: string;
  private readonly tasks: Array<[WorkloadTask, number]>;

  constructor(
    private readonly scenario: Scenario,
    private readonly random: RandomSource,
  ) {
    // ~36 tokens per sentence with o200k; build the document once.
    this.document = documentSentence.repeat(Math.ceil(scenario.document_tokens / 36));
    const mix = scenario.mix;
    const total = mix.simple_qa + mix.coding + mix.long_context + mix.multimodal;
    let cumulative = 0;
    this.tasks = (['simple_qa', 'coding', 'long_context', 'multimodal'] as const).map((task) => {
      cumulative += mix[task] / total;
      return [task, cumulative];
    });
  }

  /** Exponential inter-arrival time (Poisson arrivals), seconds. */
  nextGapSeconds(): number {
    return -Math.log(1 - this.random()) / this.scenario.arrival_rate;
  }

  nextArrivalMs(afterMs: number): number {
    return afterMs + this.nextGapSeconds() * 1000;
  }

  next(model: string): { task: WorkloadTask; request: ChatRequest } {
    const roll = this.random();
    const task = this.tasks.find(([, upTo]) => roll < upTo)?.[0] ?? 'simple_qa';
    const pick = <T>(items: readonly T[]): T => items[Math.floor(this.random() * items.length)]!;
    const max_tokens = this.scenario.output_tokens[task];
    const stream = this.scenario.stream;
    switch (task) {
      case 'simple_qa':
        return {
          task,
          request: { model, stream, max_tokens, messages: [{ role: 'user', content: pick(questions) }] },
        };
      case 'coding':
        return {
          task,
          request: { model, stream, max_tokens, messages: [{ role: 'user', content: pick(codingAsks) }] },
        };
      case 'long_context':
        return {
          task,
          request: {
            model,
            stream,
            max_tokens,
            messages: [
              { role: 'user', content: `${this.document}\n\nSummarise the main risks in this report.` },
            ],
          },
        };
      case 'multimodal':
        return {
          task,
          request: {
            model,
            stream,
            max_tokens,
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: '描述这张图片' },
                  { type: 'image_url', image_url: { url: tinyImage } },
                ],
              },
            ],
          },
        };
    }
  }
}
