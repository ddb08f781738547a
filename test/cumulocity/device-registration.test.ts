import { strict as assert } from 'assert';
import {
  allocateChild,
  allocateChildInPlace,
  allocateChildren,
  childDeviceFromDocument,
  childIdFor,
  childRegistration,
  childrenOf,
  devEUIFromChildId,
  emptyAllocation,
  gatewayDisplayName,
  gatewayIdentity,
  gatewayIndexOf,
  gatewayStartup,
  RegistrationError,
  releaseChild,
  restoreAllocation,
  supportedOperationsLine,
  supportedOperationsRefresh,
  type AllocationState,
} from '../../lib/cumulocity';
import { cellularUplink, loraUplink } from './fixtures';

function throwsReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (err: unknown) => err instanceof RegistrationError && err.reason === reason);
}

/** n distinct child ids in a fixed order: 0000000000000000, 0000000000000001, … */
function ids(n: number, offset = 0): string[] {
  return Array.from({ length: n }, (_, i) => (i + offset).toString(16).padStart(16, '0'));
}

describe('cumulocity registration: identities', () => {
  it('child id is the DevEUI in lower case (LoRa framework c8y_Serial)', () => {
    assert.equal(childIdFor('0018B20000000B20'), '0018b20000000b20');
    assert.equal(childIdFor('0018b20000000b20'), '0018b20000000b20');
    assert.equal(devEUIFromChildId('0018b20000000b20'), '0018B20000000B20');
  });

  it('refuses what is not a DevEUI', () => {
    for (const bad of ['', '0018B20000000B2', '0018B20000000B200', '0018B20000000B2G', 'my-gateway']) {
      throwsReason(() => childIdFor(bad), 'invalid-id');
    }
    assert.equal(devEUIFromChildId('0018B20000000B20'), undefined); // upper case is not a child id
    assert.equal(devEUIFromChildId('gateway'), undefined);
  });

  it('gateway identities are <id>, <id>-2, <id>-3 …', () => {
    assert.equal(gatewayIdentity('tp-gw', 0), 'tp-gw');
    assert.equal(gatewayIdentity('tp-gw', 1), 'tp-gw-2');
    assert.equal(gatewayIdentity('tp-gw', 9), 'tp-gw-10');
    assert.equal(gatewayDisplayName('ThingPark Gateway', 0), 'ThingPark Gateway');
    assert.equal(gatewayDisplayName('ThingPark Gateway', 1), 'ThingPark Gateway (2)');
    throwsReason(() => gatewayDisplayName('gw', -1), 'invalid-option');
  });

  it('a gateway id usable as MQTT client id: no ":" (implementation.md), no topic wildcards', () => {
    for (const bad of ['', 'a:b', 'a/b', 'a+', 'a#', 'a b', 'a,b', 'a"b']) {
      throwsReason(() => gatewayIdentity(bad, 0), 'invalid-id');
    }
    throwsReason(() => gatewayIdentity('gw', -1), 'invalid-option');
    throwsReason(() => gatewayIdentity('gw', 1.5), 'invalid-option');
  });
});

describe('cumulocity registration: startup and child lines', () => {
  it('gateway startup: 100, 117, agent 122 and hardware 110 when given, then 500 (pending operations) on s/us', () => {
    assert.deepEqual(gatewayStartup({ name: 'ThingPark Gateway' }), [
      { topic: 's/us', payload: '100,"ThingPark Gateway",c8y_ThingParkGateway\n117,60\n500' },
    ]);
    assert.deepEqual(
      gatewayStartup({
        name: 'edge-1 (2)',
        type: 'myType',
        requiredIntervalMinutes: 5,
        agent: { name: '@thingpark-edge/node-red-connectors', version: '1.2.3' },
        hardware: { serial: 'edge-1-2', model: '@thingpark-edge/node-red-connectors', revision: '1.2.3' },
      }),
      [
        {
          topic: 's/us',
          payload:
            '100,"edge-1 (2)",myType\n117,5\n122,@thingpark-edge/node-red-connectors,1.2.3\n' +
            '110,edge-1-2,@thingpark-edge/node-red-connectors,1.2.3\n500',
        },
      ],
    );
  });

  it('refuses a required interval that is not whole minutes', () => {
    throwsReason(() => gatewayStartup({ name: 'gw', requiredIntervalMinutes: 1.5 }), 'invalid-option');
  });

  it('LoRa child: 101 on s/us, then 110, 114, 117 on s/us/<childId>', () => {
    assert.deepEqual(childRegistration({ devEUI: '0018B20000000B20' }), [
      { topic: 's/us', payload: '101,0018b20000000b20,"LoRa 0018B20000000B20",c8y_ThingParkLoRaDevice' },
      {
        topic: 's/us/0018b20000000b20',
        payload: '110,0018B20000000B20\n114,c8y_Command,c8y_LoRaDownlink\n117,1440',
      },
    ]);
  });

  it('LoRa child with name, model, revision and interval', () => {
    assert.deepEqual(
      childRegistration({
        devEUI: '0018b20000000b20',
        name: 'Field tester, north',
        model: 'Adeunis FTD',
        revision: '2.1',
        requiredIntervalMinutes: 120,
      }),
      [
        { topic: 's/us', payload: '101,0018b20000000b20,"Field tester, north",c8y_ThingParkLoRaDevice' },
        {
          topic: 's/us/0018b20000000b20',
          payload: '110,0018B20000000B20,"Adeunis FTD",2.1\n114,c8y_Command,c8y_LoRaDownlink\n117,120',
        },
      ],
    );
  });

  it('cellular child with IMEI: 110 and 111 (c8y_Mobile), cellular name and type', () => {
    assert.deepEqual(
      childRegistration({
        devEUI: 'F03D290000000001',
        connectivity: 'CELLULAR',
        imei: '356938035643809',
        iccid: '8944500102198304826',
        imsi: '208150000000001',
      }),
      [
        {
          topic: 's/us',
          payload: '101,f03d290000000001,"Cellular F03D290000000001",c8y_ThingParkCellularDevice',
        },
        {
          topic: 's/us/f03d290000000001',
          payload:
            '110,F03D290000000001\n111,356938035643809,8944500102198304826,208150000000001\n' +
            '114,c8y_Command,c8y_LoRaDownlink\n117,1440',
        },
      ],
    );
  });

  it('111 leaves out unknown trailing SIM fields', () => {
    const [, child] = childRegistration({ devEUI: 'F03D290000000001', imei: '356938035643809' });
    assert.equal(child.payload.split('\n')[1], '111,356938035643809');
  });

  it('cellular without IMEI sends no 111', () => {
    const [, child] = childRegistration({ devEUI: 'F03D290000000001', connectivity: 'CELLULAR' });
    assert.equal(child.payload, '110,F03D290000000001\n114,c8y_Command,c8y_LoRaDownlink\n117,1440');
  });

  it('refuses a child that is not a DevEUI', () => {
    throwsReason(() => childRegistration({ devEUI: 'nope' }), 'invalid-id');
  });

  it('114 lists the operations; names are checked', () => {
    assert.equal(supportedOperationsLine(), '114,c8y_Command,c8y_LoRaDownlink');
    assert.equal(supportedOperationsLine(['c8y_Command']), '114,c8y_Command');
    throwsReason(() => supportedOperationsLine(['c8y Command']), 'invalid-option');
    throwsReason(() => supportedOperationsLine(['a,b']), 'invalid-option');
  });

  it('re-sends 114 to every child at start, one publish per child topic', () => {
    assert.deepEqual(supportedOperationsRefresh(['0018b20000000b20', 'f03d290000000001']), [
      { topic: 's/us/0018b20000000b20', payload: '114,c8y_Command,c8y_LoRaDownlink' },
      { topic: 's/us/f03d290000000001', payload: '114,c8y_Command,c8y_LoRaDownlink' },
    ]);
    assert.deepEqual(supportedOperationsRefresh([]), []);
  });

  it('reads registration facts from documents', () => {
    const lora = loraUplink({ CustomerData: { name: 'Boiler room' } }).DevEUI_uplink as Record<
      string,
      unknown
    >;
    assert.deepEqual(childDeviceFromDocument(lora), {
      devEUI: '0018B20000000B20',
      connectivity: 'LORAWAN',
      name: 'Boiler room',
    });
    const cell = cellularUplink().DevEUI_uplink as Record<string, unknown>;
    assert.deepEqual(childDeviceFromDocument(cell), {
      devEUI: 'F03D290000000001',
      connectivity: 'CELLULAR',
      imei: '356938035643809',
      imsi: '208150000000001',
    });
    throwsReason(() => childDeviceFromDocument({}), 'invalid-id');
  });
});

describe('cumulocity registration: children spread over gateway identities', () => {
  it('fills gateway 0 up to maxChildren, then opens the next identity', () => {
    let state = emptyAllocation();
    const seen: [number, boolean, boolean][] = [];
    for (const id of ids(5)) {
      const a = allocateChild(state, id, { maxChildren: 2 });
      state = a.state;
      seen.push([a.gatewayIndex, a.isNewChild, a.isNewGateway]);
    }
    assert.deepEqual(seen, [
      [0, true, true],
      [0, true, false],
      [1, true, true],
      [1, true, false],
      [2, true, true],
    ]);
    assert.deepEqual(state.counts, [2, 2, 1]);
  });

  it('a known child keeps its gateway and the state is returned unchanged', () => {
    const first = allocateChild(emptyAllocation(), '0018b20000000b20');
    const again = allocateChild(first.state, '0018b20000000b20');
    assert.equal(again.state, first.state);
    assert.deepEqual([again.gatewayIndex, again.isNewChild, again.isNewGateway], [0, false, false]);
  });

  it('never mutates the state passed in', () => {
    const before = allocateChild(emptyAllocation(), ids(1)[0]).state;
    const snapshot = JSON.stringify(before);
    allocateChild(before, ids(1, 1)[0]);
    assert.equal(JSON.stringify(before), snapshot);
  });

  it('handles more than 1000 children with the default limit: 2500 → 1000, 1000, 500', () => {
    const { state, allocations } = allocateChildren(emptyAllocation(), ids(2500));
    assert.deepEqual(state.counts, [1000, 1000, 500]);
    assert.equal(allocations[999].gatewayIndex, 0);
    assert.equal(allocations[1000].gatewayIndex, 1);
    assert.equal(allocations[2499].gatewayIndex, 2);
    assert.deepEqual(
      allocations.filter((a) => a.isNewGateway).map((a) => gatewayIdentity('edge', a.gatewayIndex)),
      ['edge', 'edge-2', 'edge-3'],
    );
    assert.equal(childrenOf(state, 2).length, 500);
  });

  it('is deterministic given the first-seen order', () => {
    const order = ids(7);
    const a = allocateChildren(emptyAllocation(), order, { maxChildren: 3 }).state;
    const b = allocateChildren(emptyAllocation(), order, { maxChildren: 3 }).state;
    assert.deepEqual(a, b);
    const reversed = allocateChildren(emptyAllocation(), [...order].reverse(), { maxChildren: 3 }).state;
    assert.equal(gatewayIndexOf(reversed, order[6]), 0);
    assert.equal(gatewayIndexOf(a, order[6]), 2);
  });

  it('one-by-one and batch allocation agree', () => {
    let state: AllocationState = emptyAllocation();
    for (const id of ids(10)) state = allocateChild(state, id, { maxChildren: 4 }).state;
    assert.deepEqual(state, allocateChildren(emptyAllocation(), ids(10), { maxChildren: 4 }).state);
  });

  it("in place (the registry's own state): the same identities, the state changed instead of copied", () => {
    const state = restoreAllocation({ assignments: {} });
    const seen = [...ids(9), ids(1)[0]].map((id) => {
      const a = allocateChildInPlace(state, id, { maxChildren: 4 });
      assert.equal(a.state, state);
      return [a.gatewayIndex, a.isNewChild, a.isNewGateway];
    });
    const batch = allocateChildren(emptyAllocation(), [...ids(9), ids(1)[0]], { maxChildren: 4 });
    assert.deepEqual(
      seen,
      batch.allocations.map((a) => [a.gatewayIndex, a.isNewChild, a.isNewGateway]),
    );
    assert.deepEqual(state, batch.state);
    throwsReason(() => allocateChildInPlace(state, '__proto__'), 'invalid-id');
    assert.deepEqual(state.counts, [4, 4, 1], 'a refused id changes nothing');
  });

  it('a lowered limit does not move known children; new ones go where there is room', () => {
    const start = allocateChildren(emptyAllocation(), ids(3), { maxChildren: 10 }).state;
    const next = allocateChild(start, ids(1, 3)[0], { maxChildren: 2 });
    assert.deepEqual(
      ids(3).map((id) => gatewayIndexOf(next.state, id)),
      [0, 0, 0],
    );
    assert.equal(next.gatewayIndex, 1);
  });

  it('a released slot is reused by the next new child', () => {
    let state = allocateChildren(emptyAllocation(), ids(3), { maxChildren: 2 }).state;
    state = releaseChild(state, ids(1)[0]);
    assert.deepEqual(state.counts, [1, 1]);
    assert.equal(gatewayIndexOf(state, ids(1)[0]), undefined);
    const a = allocateChild(state, ids(1, 3)[0], { maxChildren: 2 });
    assert.equal(a.gatewayIndex, 0);
    assert.equal(releaseChild(a.state, 'ffffffffffffffff'), a.state);
  });

  it('lists the children of one identity, sorted', () => {
    const state = allocateChildren(
      emptyAllocation(),
      ['00000000000000b0', '00000000000000a0', '00000000000000c0'],
      {
        maxChildren: 2,
      },
    ).state;
    assert.deepEqual(childrenOf(state, 0), ['00000000000000a0', '00000000000000b0']);
    assert.deepEqual(childrenOf(state, 1), ['00000000000000c0']);
  });

  it('survives a JSON round trip through restoreAllocation (counts rebuilt)', () => {
    const state = allocateChildren(emptyAllocation(), ids(5), { maxChildren: 2 }).state;
    const restored = restoreAllocation(JSON.parse(JSON.stringify({ assignments: state.assignments })));
    assert.deepEqual(restored, state);
  });

  it('refuses corrupt persisted state', () => {
    for (const bad of [
      null,
      'x',
      [],
      {},
      { assignments: [] },
      { assignments: { nothex: 0 } },
      { assignments: { '0000000000000001': -1 } },
      { assignments: { '0000000000000001': 'a' } },
    ]) {
      throwsReason(() => restoreAllocation(bad), 'invalid-state');
    }
  });

  it('refuses bad child ids and limits', () => {
    throwsReason(() => allocateChild(emptyAllocation(), '0018B20000000B20'), 'invalid-id');
    throwsReason(() => allocateChild(emptyAllocation(), '__proto__'), 'invalid-id');
    throwsReason(() => allocateChild(emptyAllocation(), ids(1)[0], { maxChildren: 0 }), 'invalid-option');
  });
});
