// shipping is a sample Lambda function in Node.js with no tracing code and
// no SDK: a plain handler, as most functions are. It consumes the
// orders-placed SQS queue that the orders function sends to, books a
// shipment per order and logs it. Attached to it, the Lambdascope layer
// (AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdascope-wrapper) still places each
// invocation in a trace: the extension reads the batch event on its way to
// the handler, joins the first message's trace and links every message's.
'use strict';

exports.handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records || []) {
    let order;
    try {
      order = JSON.parse(record.body);
    } catch (err) {
      console.error(`shipping: message ${record.messageId} is not JSON: ${err.message}`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    // Booking the shipment with the carrier.
    await new Promise((resolve) => setTimeout(resolve, 2));
    console.log(`shipping: shipment booked for order=${order.order} sku=${order.sku} qty=${order.qty} message=${record.messageId}`);
  }
  return { batchItemFailures };
};
