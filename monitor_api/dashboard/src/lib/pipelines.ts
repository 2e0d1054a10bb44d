// Group status components into Airflow DAG runs with their tasks.

import type { Component } from '../state/status';

export interface TaskGroup {
  taskId: string;
  /** True when the task is mapped (any try has map_index >= 0). */
  mapped: boolean;
  /** The latest try of each map index, ordered by map index. */
  instances: Component[];
  /** Count of latest tries per state. */
  states: Record<string, number>;
  /** The workers that ran the latest tries, with how many each, by name (tries without a host left out). */
  hosts: [string, number][];
  /** The group's overall state: failed > running > queued > stopped > success. */
  state: string;
  started_at: string | null;
  finished_at: string | null;
  maxTry: number;
}

export interface DagRunView {
  id: string;
  dagId: string;
  runId: string;
  run: Component | null;
  tasks: TaskGroup[];
  state: string;
  started_at: string | null;
  finished_at: string | null;
  url: string | null;
}

const attr = (c: Component, key: string): unknown => (c.attrs ? c.attrs[key] : undefined);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** Split a task id "task:{dag_id}:{run_id}:{task_id}:{map_index}:{try}" (run ids may contain ':'). */
export function parseTaskId(id: string): { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number } | null {
  if (!id.startsWith('task:')) return null;
  const parts = id.slice(5).split(':');
  if (parts.length < 5) return null;
  const tryNumber = Number(parts.pop());
  const mapIndex = Number(parts.pop());
  const taskId = parts.pop()!;
  const dagId = parts.shift()!;
  return { dagId, runId: parts.join(':'), taskId, mapIndex, tryNumber };
}

export function parseDagRunId(id: string): { dagId: string; runId: string } | null {
  if (!id.startsWith('dag_run:')) return null;
  const rest = id.slice(8);
  const i = rest.indexOf(':');
  if (i < 0) return null;
  return { dagId: rest.slice(0, i), runId: rest.slice(i + 1) };
}

function taskInfo(c: Component) {
  const parsed = parseTaskId(c.id);
  const mapIndex = Number(attr(c, 'map_index') ?? parsed?.mapIndex ?? -1);
  const tryNumber = Number(attr(c, 'try_number') ?? parsed?.tryNumber ?? 1);
  return {
    dagId: str(attr(c, 'dag_id')) ?? parsed?.dagId ?? '?',
    runId: str(attr(c, 'run_id')) ?? parsed?.runId ?? '?',
    taskId: str(attr(c, 'task_id')) ?? parsed?.taskId ?? c.name,
    mapIndex: Number.isFinite(mapIndex) ? mapIndex : -1,
    tryNumber: Number.isFinite(tryNumber) ? tryNumber : 1,
  };
}

const SEVERITY = ['failed', 'running', 'queued', 'stopped', 'success'];

export function combinedState(states: Iterable<string>): string {
  let best = -1;
  let other: string | null = null;
  for (const s of states) {
    const i = SEVERITY.indexOf(s);
    if (i < 0) other = s;
    else if (best < 0 || i < best) best = i;
  }
  return best >= 0 ? SEVERITY[best] : (other ?? 'queued');
}

function minTime(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}
function maxTime(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/** DAG runs, newest first, each with its tasks grouped by task id (mapped instances together). */
export function groupDagRuns(components: Iterable<Component>): DagRunView[] {
  const runs = new Map<string, DagRunView>();
  const tries = new Map<string, Map<string, Map<number, Component>>>(); // run -> task -> map index -> latest try
  const ensure = (id: string, dagId: string, runId: string): DagRunView => {
    let r = runs.get(id);
    if (!r) {
      r = { id, dagId, runId, run: null, tasks: [], state: 'queued', started_at: null, finished_at: null, url: null };
      runs.set(id, r);
    }
    return r;
  };
  for (const c of components) {
    if (c.kind === 'dag_run') {
      const p = parseDagRunId(c.id);
      const r = ensure(c.id, str(attr(c, 'dag_id')) ?? p?.dagId ?? c.name, str(attr(c, 'run_id')) ?? p?.runId ?? c.id);
      r.run = c;
    } else if (c.kind === 'task') {
      const t = taskInfo(c);
      const runKey = c.parent_id ?? `dag_run:${t.dagId}:${t.runId}`;
      ensure(runKey, t.dagId, t.runId);
      let byTask = tries.get(runKey);
      if (!byTask) tries.set(runKey, (byTask = new Map()));
      let byIndex = byTask.get(t.taskId);
      if (!byIndex) byTask.set(t.taskId, (byIndex = new Map()));
      const prev = byIndex.get(t.mapIndex);
      if (!prev || taskInfo(prev).tryNumber <= t.tryNumber) byIndex.set(t.mapIndex, c);
    }
  }
  for (const [runKey, r] of runs) {
    const byTask = tries.get(runKey) ?? new Map<string, Map<number, Component>>();
    for (const [taskId, byIndex] of byTask) {
      const instances = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
      const states: Record<string, number> = {};
      const hosts: Record<string, number> = {};
      let started: string | null = null;
      let finished: string | null = null;
      let maxTry = 1;
      let allDone = true;
      for (const c of instances) {
        states[c.state] = (states[c.state] ?? 0) + 1;
        if (c.host) hosts[c.host] = (hosts[c.host] ?? 0) + 1;
        started = minTime(started, c.started_at);
        finished = maxTime(finished, c.finished_at);
        if (!c.finished_at) allDone = false;
        maxTry = Math.max(maxTry, taskInfo(c).tryNumber);
      }
      r.tasks.push({
        taskId,
        mapped: [...byIndex.keys()].some((i) => i >= 0),
        instances,
        states,
        hosts: Object.entries(hosts).sort((a, b) => a[0].localeCompare(b[0])),
        state: combinedState(Object.keys(states)),
        started_at: started,
        finished_at: allDone ? finished : null,
        maxTry,
      });
    }
    r.tasks.sort((a, b) => (Date.parse(a.started_at ?? '') || Infinity) - (Date.parse(b.started_at ?? '') || Infinity) || a.taskId.localeCompare(b.taskId));
    if (r.run) {
      r.state = r.run.state;
      r.started_at = r.run.started_at;
      r.finished_at = r.run.finished_at;
      r.url = r.run.url;
    } else {
      r.state = combinedState(r.tasks.map((t) => t.state));
      r.started_at = r.tasks.reduce<string | null>((m, t) => minTime(m, t.started_at), null);
      r.finished_at = null;
      r.url = r.tasks[0]?.instances[0]?.url ?? null;
    }
  }
  return [...runs.values()].sort((a, b) => (Date.parse(b.started_at ?? '') || 0) - (Date.parse(a.started_at ?? '') || 0));
}
