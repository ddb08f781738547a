import type { DocumentBody } from '../../lib/thingpark/mapping/document-types';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';

/** A realistic LoRaWAN uplink body, shaped like the IoT Flow documentation's example. */
export function sampleUplink(devEUI: string, fCntUp: number, now = new Date()): DocumentBody {
  const temperature = 18 + 6 * Math.sin(fCntUp / 5);
  const raw = Math.round(temperature * 100);
  const payloadHex = Buffer.from([0x01, (raw >> 8) & 0xff, raw & 0xff, 40 + (fCntUp % 20)]).toString('hex');
  return {
    Time: thingparkTime(now),
    DevEUI: devEUI,
    FPort: 2,
    FCntUp: fCntUp,
    ADRbit: 1,
    MType: 4,
    FCntDn: 0,
    payload_hex: payloadHex,
    mic_hex: 'cfffc70f',
    Lrcid: '00000206',
    LrrRSSI: -80 - (fCntUp % 30),
    LrrSNR: 7.5,
    SpFact: 7,
    SubBand: 'G2',
    Channel: 'LC6',
    DevLrrCnt: 1,
    Lrrid: '004A18E3',
    Late: 0,
    LrrLAT: 45.851032,
    LrrLON: 1.26623,
    Lrrs: { Lrr: [{ Lrrid: '004A18E3', Chain: 0, LrrRSSI: -80, LrrSNR: 7.5, LrrESP: -80.7901 }] },
    CustomerID: '1100000077',
    CustomerData: { alr: { pro: 'DEMO/TEMP', ver: '1' } },
    ModelCfg: '0',
    DevAddr: '05CB0AE8',
    TxPower: 14,
    NbTrans: 1,
  };
}

/** The report ThingPark sends once a queued downlink went over the air. */
export function sampleDownlinkSent(
  devEUI: string,
  fPort: number,
  correlationId: string,
  now = new Date(),
): DocumentBody {
  return {
    Time: thingparkTime(now),
    DevEUI: devEUI,
    FPort: fPort,
    FCntDn: 1,
    DeliveryStatus: 1,
    TransmissionSlot: 1,
    CorrelationID: correlationId,
    CustomerID: '1100000077',
  };
}
