import { strict as assert } from 'assert';
import { refusedPort } from '../../testkit/broker';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { NodeRedProcess } from '../helpers/node-red-process';
import { placed } from '../hostile/red-process';

const AS_KEY = 'subflow-as-key';
const DEV = '70B3D5E75E000001';

/**
 * Subflows need the whole runtime (the test helper's cannot run them): a real Node-RED with
 * uplink in → subflow (delay 300 ms, change) → wmw out whose buffer holds one document, the
 * platform unreachable.
 */
describe('uplink in waits for the copies inside a subflow (a real Node-RED process)', function () {
  this.timeout(60000);
  let red: NodeRedProcess;

  before(async () => {
    const closedPort = await refusedPort();
    const flows = placed([
      { id: 'tab', type: 'tab', label: 'subflow' },
      { id: 'net', type: 'thingpark-network', mode: 'http', asId: 'subflow.as', maxTimeDeviation: 120 },
      {
        id: 'conn',
        type: 'thingpark-wmw',
        region: 'custom',
        hostName: `127.0.0.1:${closedPort}`,
        enterpriseId: 'subflow',
        insecure: true,
        bufferMax: 1,
        bufferPolicy: 'reject',
      },
      {
        id: 'sf',
        type: 'subflow',
        name: 'slow pass',
        info: '',
        in: [{ x: 50, y: 30, wires: [{ id: 'sfd' }] }],
        out: [{ x: 400, y: 30, wires: [{ id: 'sfc', port: 0 }] }],
      },
      {
        id: 'sfd',
        z: 'sf',
        type: 'delay',
        pauseType: 'delay',
        timeout: '300',
        timeoutUnits: 'milliseconds',
        wires: [['sfc']],
      },
      {
        id: 'sfc',
        z: 'sf',
        type: 'change',
        rules: [{ t: 'set', p: 'inside', pt: 'msg', to: 'yes', tot: 'str' }],
        wires: [[]],
      },
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/subflow/uplink',
        wires: [['sfi']],
      },
      { id: 'sfi', z: 'tab', type: 'subflow:sf', wires: [['out']] },
      { id: 'out', z: 'tab', type: 'thingpark-wmw-out', wmw: 'conn', wires: [[]] },
    ] as Array<Record<string, unknown>>);
    red = new NodeRedProcess(flows, { net: { asKey: AS_KEY } });
    await red.start();
  });
  after(async () => {
    await red?.dispose();
  });

  const post = (fCnt: number) =>
    postTunnelDocument(
      { url: `${red.url}/subflow/uplink`, asId: 'subflow.as', asKey: AS_KEY },
      'DevEUI_uplink',
      sampleUplink(DEV, fCnt),
    );

  it('answers 200 once the copy that left the subflow is stored, and 503 when it is refused', async () => {
    const t0 = Date.now();
    const first = await post(1);
    assert.equal(first.status, 200, first.text);
    assert.ok(Date.now() - t0 >= 300, 'waited for the delay inside the subflow');
    const second = await post(2);
    assert.equal(second.status, 503, 'the only place in the buffer is taken: refused, and ThingPark is told');
    assert.match(second.text, /buffer/i);
  });
});
