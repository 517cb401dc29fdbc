#!/bin/bash
for r in 1 2 3; do
for L in 2d-k7:layers 2d-k11:layers 2d-k15:layers 2d-dw31:layers 1d-k65:layers 3d-k5:layers 2d-k31-dense:layers-extended 1d-long-dw:layers-extended; do
  ./ab3.sh ${L%%:*} ${L##*:} 1 ${BASE:-/tmp/glue-base} ${NEW:-/tmp/glue-new}
done; done
