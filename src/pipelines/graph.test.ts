import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findCycles, topologicalOrder } from './graph.ts';
import { jobGraph, parsePipeline, planOrder } from './index.ts';

const needs = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

void describe('job graph', { timeout: 30_000 }, () => {
  const CYCLES: { name: string; ids: string[]; needs: Record<string, string[]>; cycles: string[][] }[] = [
    { name: 'none', ids: ['a', 'b'], needs: { b: ['a'] }, cycles: [] },
    { name: 'two jobs', ids: ['a', 'b'], needs: { a: ['b'], b: ['a'] }, cycles: [['a', 'b', 'a']] },
    {
      name: 'starts at the first job in file order',
      ids: ['x', 'b', 'c', 'a'],
      needs: { x: ['c'], a: ['b'], b: ['c'], c: ['a'] },
      cycles: [['b', 'c', 'a', 'b']],
    },
    { name: 'self needs and unknown ids are ignored', ids: ['a'], needs: { a: ['a', 'zz'] }, cycles: [] },
    {
      name: 'two separate cycles',
      ids: ['a', 'b', 'c', 'd'],
      needs: { a: ['b'], b: ['a'], c: ['d'], d: ['c'] },
      cycles: [
        ['a', 'b', 'a'],
        ['c', 'd', 'c'],
      ],
    },
  ];
  for (const c of CYCLES) {
    void test(`findCycles: ${c.name}`, () => {
      assert.deepEqual(findCycles(c.ids, needs(c.needs)), c.cycles);
    });
  }

  void test('topologicalOrder keeps file order between independent jobs', () => {
    assert.deepEqual(topologicalOrder(['d', 'a', 'b', 'c'], needs({ d: ['c'], a: [], b: ['a'], c: ['b'] })), [
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  void test('jobGraph and planOrder of a parsed pipeline', () => {
    const text = [
      'name: g',
      'jobs:',
      '  deploy: { needs: [image, test], steps: [{ run: x }] }',
      '  test: { steps: [{ run: x }] }',
      '  image: { needs: test, steps: [{ run: x }] }',
      '  lint: { steps: [{ run: x }] }',
      'finally:',
      '  notify: { needs: cleanup, steps: [{ run: x }] }',
      '  cleanup: { steps: [{ run: x }] }',
      '',
    ].join('\n');
    const { pipeline, problems } = parsePipeline(text, 'g.yaml');
    assert.deepEqual(problems, []);
    const graph = jobGraph(pipeline!);
    assert.deepEqual(graph.order, ['test', 'image', 'deploy', 'lint']);
    assert.deepEqual(graph.finallyOrder, ['cleanup', 'notify']);
    assert.deepEqual(graph.roots, ['test', 'lint']);
    assert.deepEqual(graph.dependents.get('test'), ['deploy', 'image']);
    assert.deepEqual(graph.needs.get('deploy'), ['image', 'test']);
    assert.deepEqual(planOrder(pipeline!), ['test', 'image', 'deploy', 'lint', 'cleanup', 'notify']);
  });
});
