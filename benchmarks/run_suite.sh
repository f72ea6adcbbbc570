#!/usr/bin/env bash
# The accuracy benchmarks behind benchmarks/README.md, in the order they were run. Every stage is resumable: rerun
# this script and finished configurations are skipped. About 5 hours on a 2-core CPU machine with --jobs 2. Runs
# after the first stage validate at the last epoch only (val=False), which is the epoch every table reports.
# Usage: bash benchmarks/run_suite.sh [stage ...]
#   stages: scratch pretrain finetune robustness-cls families segterms tune robustness-box
#           long ablation real pose-obb aux gain-finder default (or one of its parts: default-core,
#           default-heads, default-short, default-bccd, default-gains, default-finetune, default-peers,
#           default-peers-bccd, default-peers-heads, default-peers-rest)
#           rtdetr (or rtdetr-core, rtdetr-gains, rtdetr-finder, rtdetr-peers, rtdetr-bccd)
#           rtdetr-default default-0.5 reproduce-0.4; default: all but the last two (checks), in that order
#   real: BCCD (real microscope images) fine-tuning COCO-derived weights; BCCD_SRC=path/to/BCCD (default
#         ../shared/datasets/BCCD, or get it from github.com/Shenggan/BCCD_Dataset), REAL_JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
export YOLO_OFFLINE=1
PY=${PYTHON:-python}
R=benchmarks/results
W="fixed alwa2 alwa2-raw alwa-cal"
stages=${*:-scratch pretrain finetune robustness-cls families segterms tune robustness-box long ablation real pose-obb aux gain-finder default rtdetr rtdetr-default}

for stage in $stages; do
  case $stage in
  scratch)  # from scratch, both synthetic sets, every box loss, 3 seeds, 20 epochs (320 iterations on each set)
    $PY benchmarks/sweep.py --data data/shapes.yaml --epochs 20 --weightings $W --jobs 2 --out $R/scratch-shapes
    $PY benchmarks/sweep.py --data data/shapes-hard.yaml --epochs 20 --weightings $W --jobs 2 --out $R/scratch-hard
    ;;
  pretrain)  # the checkpoint users would download: YOLOv8n, Ultralytics' gains, 30 epochs on 1024 images of 8 classes
    $PY benchmarks/sweep.py --data data/shapes-pretrain.yaml --epochs 30 --weightings fixed --reg-losses ciou \
      --seeds 0 --extra val=False --out $R/pretrain
    ;;
  finetune)  # fine-tune that checkpoint for 10 epochs (160 iterations) on each set, as users fine-tune yolov8n.pt
    ckpt=$R/pretrain/runs/fixed-auto-ciou-s0/weights/best.pt
    $PY benchmarks/sweep.py --data data/shapes.yaml --model $ckpt --epochs 10 --weightings $W --jobs 2 \
      --extra val=False --out $R/finetune-shapes
    $PY benchmarks/sweep.py --data data/shapes-hard.yaml --model $ckpt --epochs 10 --weightings $W --jobs 2 \
      --extra val=False --out $R/finetune-hard
    ;;
  robustness-cls|robustness-box)  # Ultralytics' cls (or box) gain scaled 1/8 .. 8; every strategy starts from the
    # scaled gains. For the cls gain every strategy runs at all seven multipliers; for the box gain the adaptive ones
    # at the two ends and the middle (1/8, 1, 8), which is what the budget allowed.
    key=${stage#robustness-}
    thin=""; [ "$key" = box ] && thin="--adaptive-scales 0.125,1,8"
    $PY benchmarks/sweep.py --data data/shapes.yaml --epochs 10 --weightings fixed alwa2 alwa-cal --gains hyp \
      --reg-losses ciou l1 --seeds 0 1 --scale $key=0.125,0.25,0.5,1,2,4,8 $thin --jobs 2 \
      --extra val=False --out $R/robustness-$key
    ;;
  families)  # YOLO26n (end-to-end, no DFL) on the demo set; YOLOv8n-seg on the polygon demo set (mask mAP too)
    $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml --epochs 20 --reg-losses ciou \
      --weightings fixed alwa2 alwa-cal --jobs 2 --extra val=False --out $R/yolo26n-shapes
    $PY benchmarks/sweep.py --data data/shapes-seg.yaml --model yolov8n-seg.yaml --epochs 20 --reg-losses ciou \
      --weightings fixed alwa2 alwa-cal --jobs 2 --extra val=False --out $R/seg-shapes
    $PY benchmarks/sweep.py --data data/shapes-seg.yaml --model yolov8n-seg.yaml --epochs 20 --reg-losses ciou \
      --weightings fixed alwa2 alwa-cal --metric mask_mAP50-95 --table-only --out $R/seg-shapes
    ;;
  segterms)  # which ALWA group the mask term belongs to, from the fixed seg runs' per-iteration loss items
    $PY benchmarks/term_stats.py $R/seg-shapes/runs/fixed-auto-ciou-s* --out $R/seg-terms
    ;;
  tune)  # Ultralytics' model.tune() over box / cls / dfl, 8 trials of 10 epochs, against one alwa-cal run of 10 epochs
    $PY benchmarks/tune_compare.py --data data/shapes.yaml --epochs 10 --trials 8 --out $R/tune \
      --adaptive $R/robustness-cls/runs/alwa-cal-hyp-ciou-clsx1-s0 $R/robustness-cls/runs/fixed-auto-ciou-clsx1-s0
    ;;
  long)  # the length of `python train.py` (30 epochs, demo set, CIoU): does the 20-epoch ranking hold?
    $PY benchmarks/sweep.py --data data/shapes.yaml --epochs 30 --weightings fixed alwa-cal --reg-losses ciou \
      --jobs 2 --extra val=False --out $R/long-shapes
    ;;
  ablation)  # alwa-cal's rule switched off (an interval longer than the run): what the calibration alone does, on
    # the configurations where the rule acted (hard set, L1 / SmoothL1); compare with scratch-hard's alwa-cal rows
    $PY benchmarks/sweep.py --data data/shapes-hard.yaml --epochs 20 --weightings fixed alwa-cal --reg-losses l1 \
      smoothl1 --alwa-interval 100000 --jobs 2 --out $R/ablation-calibration-only
    ;;
  real)  # BCCD: 205 train / 87 val real images, 3 imbalanced classes; a COCO-derived YOLOv8n fine-tuned at 320 px,
    # batch 8 (26 iterations an epoch), 15 epochs, validated at the last; the parts in the order they are reported
    $PY benchmarks/bccd_prepare.py --src "${BCCD_SRC:-../shared/datasets/BCCD}" --dst benchmarks/datasets/BCCD \
      --weights benchmarks/weights/yolov8n-coco-smartrail.pt --out $R/bccd-converter
    bccd=benchmarks/datasets/BCCD/BCCD.yaml
    real="--data $bccd --img 320 --batch 8 --jobs ${REAL_JOBS:-2} --extra val=False"
    pre="--model benchmarks/weights/yolov8n-coco-smartrail.pt"
    $PY benchmarks/sweep.py $real $pre --epochs 15 --weightings fixed alwa-cal alwa2 --out $R/bccd-finetune
    # Ultralytics' gains scaled (x1 is bccd-finetune's fixed row, the same run)
    $PY benchmarks/sweep.py $real $pre --epochs 15 --weightings fixed --reg-losses ciou \
      --scale cls=0.25,0.5,2,4 --out $R/bccd-gains-cls
    $PY benchmarks/sweep.py $real $pre --epochs 15 --weightings fixed --reg-losses ciou \
      --scale box=0.25,4 --out $R/bccd-gains-box
    $PY benchmarks/tune_compare.py --data $bccd $pre --img 320 --batch 8 --epochs 15 --trials 10 \
      --retrain-seeds 0 1 2 --out $R/bccd-tune --adaptive $R/bccd-finetune/runs/alwa-cal-auto-ciou-s{0,1,2}
    $PY benchmarks/sweep.py $real $pre --epochs 10 --weightings fixed alwa-cal alwa2 --reg-losses ciou l1 \
      --out $R/bccd-finetune-10ep
    $PY benchmarks/sweep.py $real --model yolo26n.yaml --epochs 30 --weightings fixed alwa-cal --reg-losses ciou \
      --out $R/bccd-yolo26n-scratch
    $PY benchmarks/real_tables.py
    ;;
  pose-obb)  # the pose and OBB demo sets (256 images, 128 px), from scratch, 20 epochs (320 iterations), 3 seeds,
    # YOLO11n first (the term statistics and the gain robustness use it), then YOLO26n; validated at the last epoch
    for task in pose obb; do
      for model in yolo11n-$task yolo26n-$task; do
        $PY benchmarks/sweep.py --data data/shapes-$task.yaml --model $model.yaml --epochs 20 --weightings fixed \
          alwa-cal alwa2 alwa-cal-aux --reg-losses ciou --jobs ${POSE_OBB_JOBS:-2} --extra val=False \
          --out $R/$task-$model
      done
    done
    $PY benchmarks/term_stats.py $R/pose-yolo11n-pose/runs/fixed-auto-ciou-s* --out $R/pose-terms
    $PY benchmarks/term_stats.py $R/obb-yolo11n-obb/runs/fixed-auto-ciou-s* --out $R/obb-terms
    # the task's own gain x1/4, x4. alwa-cal's result does not depend on its base gains (they cancel: tested, and
    # robustness-cls measured it equal at every multiplier), nor does alwa-cal-aux's on the pose gain (pose is a main
    # term); alwa-cal-aux keeps the angle term at its gain ratio to box, so it runs at the scaled angle gains
    $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml --epochs 20 --weightings fixed \
      --reg-losses ciou --scale pose=0.25,4 --jobs ${POSE_OBB_JOBS:-2} --extra val=False --out $R/pose-gains
    $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml --epochs 20 --weightings fixed \
      alwa-cal-aux --reg-losses ciou --scale angle=0.25,4 --jobs ${POSE_OBB_JOBS:-2} --extra val=False \
      --out $R/obb-gains
    # fine-tuning: YOLO11n-pose / -obb pretrained 30 epochs on 1024 images of 8 classes (another seed, sizes and
    # clutter), Ultralytics' gains; then 10 epochs (160 iterations) on the demo set, as users fine-tune yolo11n-pose.pt
    for task in pose obb; do
      $PY benchmarks/sweep.py --data data/shapes-$task-pretrain.yaml --model yolo11n-$task.yaml --epochs 30 \
        --weightings fixed --reg-losses ciou --seeds 0 --threads 2 --extra val=False --out $R/$task-pretrain
      $PY benchmarks/sweep.py --data data/shapes-$task.yaml --model $R/$task-pretrain/runs/fixed-auto-ciou-s0/weights/best.pt \
        --epochs 10 --weightings fixed alwa-cal alwa2 alwa-cal-aux --reg-losses ciou --jobs ${POSE_OBB_JOBS:-2} \
        --extra val=False --out $R/$task-finetune
    done
    $PY benchmarks/pose_obb_tables.py
    ;;
  default|default-core|default-heads|default-short|default-bccd|default-gains|default-finetune|default-peers|default-peers-bccd|\
  default-peers-heads|default-peers-rest)
    # benchmarks/README "Default":
    # alwa-ref (the default) against fixed on every head and task (core: demo sets, 20 epochs, 3 seeds; heads: the
    # heads where it trains fixed's run: YOLO11n / YOLOv10n detect, segmentation), the 10-epoch
    # runs from scratch (short), the BCCD fine-tune (bccd), Ultralytics' gains mis-set for fixed (gains: alwa-ref's
    # result does not depend on them, tested, so its x1 runs stand for every multiplier), the pose / OBB fine-tunes
    # (finetune), and the peers on the detect, OBB and pose rows (peers), on BCCD (peers-bccd), on the anchor head
    # and YOLO26n (peers-heads) and on the rest (peers-rest). "default" runs them in that order, so that a cut budget
    # cuts the peers.
    # Since 0.5 the default tracks a replaced box loss's share all run; the 0.4 default's L1 runs are in
    # results/default-0.4-l1, and the rule's runs under its experimental name (alwa-share, at 7807fad) stay beside
    # the default's in default-short / default-shapes (the default-0.5 stage compares them)
    D="--epochs 20 --reg-losses ciou --jobs 2 --extra val=False"
    P="--weightings fixed uw-so loss-ratio alwa2 uw dwa"  # the peers, the closest first
    if [[ $stage == default || $stage == default-core ]]; then
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml $D --weightings fixed alwa-ref \
        --out $R/default-pose-yolo11n
      $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml $D --weightings fixed alwa-ref \
        --out $R/default-obb-yolo11n
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 20 --reg-losses ciou l1 --jobs 2 \
        --extra val=False --weightings fixed alwa-ref --out $R/default-shapes
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo26n-pose.yaml $D --weightings fixed alwa-ref \
        --out $R/default-pose-yolo26n
      $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo26n-obb.yaml $D --weightings fixed alwa-ref \
        --out $R/default-obb-yolo26n
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml $D --weightings fixed alwa-ref \
        --out $R/default-yolo26n
      $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/yolov8n-anchor.yaml $D \
        --weightings fixed alwa-ref --out $R/default-anchor
    fi
    if [[ $stage == default || $stage == default-heads ]]; then  # the other heads: YOLO11n and YOLOv10n detect,
      # YOLO11n-seg and YOLO26n-seg on the polygon demo set (box and mask mAP)
      for model in yolo11n yolov10n; do
        $PY benchmarks/sweep.py --data data/shapes.yaml --model $model.yaml $D --weightings fixed alwa-ref \
          --out $R/default-$model
      done
      for model in yolo11n-seg yolo26n-seg; do
        $PY benchmarks/sweep.py --data data/shapes-seg.yaml --model $model.yaml $D --weightings fixed alwa-ref \
          --out $R/default-$model
        $PY benchmarks/sweep.py --data data/shapes-seg.yaml --model $model.yaml $D --weightings fixed alwa-ref \
          --metric mask_mAP50-95 --table-only --out $R/default-$model
      done
    fi
    if [[ $stage == default || $stage == default-short ]]; then
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 10 --reg-losses ciou l1 --jobs 2 \
        --extra val=False --weightings fixed alwa-ref --out $R/default-short
    fi
    # real images: COCO-derived YOLOv8n fine-tuned on BCCD (the real stage prepares the set and the weights), 320 px,
    # batch 8, 15 epochs
    B="--data benchmarks/datasets/BCCD/BCCD.yaml --img 320 --batch 8 --jobs 2 --extra val=False --epochs 15
      --model benchmarks/weights/yolov8n-coco-smartrail.pt --out $R/default-bccd"
    if [[ $stage == default || $stage == default-bccd ]]; then
      $PY benchmarks/sweep.py $B --reg-losses l1 ciou --weightings fixed alwa-ref
    fi
    if [[ $stage == default || $stage == default-gains ]]; then  # every gain the default weights, x1/4 and x4
      G="--weightings fixed --scale"
      $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml $D $G angle=4,0.25 \
        --out $R/default-obb-angle
      # the angle term off (angle=0): YOLO11-obb's gains were tuned in Ultralytics 8.3, which had no angle term
      $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml $D $G angle=0 \
        --out $R/default-obb-angle0
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml $D $G box=0.25,4 --out $R/default-shapes-box
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml $D $G cls=4,0.25 --out $R/default-shapes-cls
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml $D $G pose=4,0.25 \
        --out $R/default-pose-pose
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml $D $G dfl=0.25,4 --out $R/default-shapes-dfl
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml $D $G kobj=0.25,4 \
        --out $R/default-pose-kobj
      # YOLO26's l1 term is the dfl hyperparameter on a DFL-free head; rle is YOLO26-pose's
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml $D $G dfl=0.25,4 --out $R/default-yolo26n-l1
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo26n-pose.yaml $D $G rle=0.25,4 \
        --out $R/default-pose-yolo26n-rle
    fi
    if [[ $stage == default || $stage == default-finetune ]]; then  # pose / OBB fine-tunes: the pose-obb stage's
      # checkpoints (YOLO11n-pose / -obb, 30 epochs on 1024 images of 8 classes; made here if absent), 10 epochs
      for task in pose obb; do
        $PY benchmarks/sweep.py --data data/shapes-$task-pretrain.yaml --model yolo11n-$task.yaml --epochs 30 \
          --weightings fixed --reg-losses ciou --seeds 0 --threads 2 --extra val=False --out $R/$task-pretrain
        $PY benchmarks/sweep.py --data data/shapes-$task.yaml --epochs 10 --reg-losses ciou --jobs 2 --extra val=False \
          --model $R/$task-pretrain/runs/fixed-auto-ciou-s0/weights/best.pt --weightings fixed alwa-ref \
          --out $R/default-$task-finetune
      done
    fi
    if [[ $stage == default || $stage == default-peers ]]; then
      for peer in loss-ratio uw-so alwa-cal alwa2 uw dwa; do  # one peer across the rows before the next
        $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 20 --reg-losses ciou l1 \
          --jobs 2 --extra val=False --weightings fixed $peer --out $R/default-shapes
        [ $peer = alwa-cal ] && continue  # alwa-cal (the previous default): the detect rows, where it was level
        $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml $D --weightings fixed $peer \
          --out $R/default-obb-yolo11n
        $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml $D --weightings fixed $peer \
          --out $R/default-pose-yolo11n
      done
      # the two new peers (the closest to fixed on the rows above) in the 10-epoch runs from scratch as well
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 10 --reg-losses ciou l1 --jobs 2 \
        --extra val=False --weightings fixed uw-so loss-ratio --out $R/default-short
    fi
    if [[ $stage == default || $stage == default-peers || $stage == default-peers-bccd ]]; then
      # real images (beside the default-bccd runs); the grid runs one weighting after the other, the closest peers first
      $PY benchmarks/sweep.py $B --reg-losses ciou --weightings fixed uw-so loss-ratio alwa2 uw dwa
    fi
    if [[ $stage == default || $stage == default-peers || $stage == default-peers-heads ]]; then
      # the other heads: the anchor head (no tuned gains: fixed trains on YOLOv5's), then YOLO26n
      $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/yolov8n-anchor.yaml $D $P --out $R/default-anchor
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml $D $P --out $R/default-yolo26n
    fi
    if [[ $stage == default || $stage == default-peers || $stage == default-peers-rest ]]; then
      # the rest where the budget allowed: uw, dwa and alwa2 in the 10-epoch runs, then every peer on YOLO26n-obb
      # and YOLO26n-pose
      $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 10 --reg-losses ciou l1 --jobs 2 \
        --extra val=False --weightings fixed uw dwa alwa2 --out $R/default-short
      $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo26n-obb.yaml $D $P --out $R/default-obb-yolo26n
      $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo26n-pose.yaml $D $P --out $R/default-pose-yolo26n
    fi
    ;;
  rtdetr|rtdetr-core|rtdetr-gains|rtdetr-finder|rtdetr-peers|rtdetr-bccd)  # benchmarks/README "RT-DETR": the
    # small RT-DETR (cfg/models/rtdetr-n.yaml) from scratch on the demo set, 20 epochs, 3 seeds: fixed (RT-DETR's
    # hard-coded gains), the default and alwa2 (core); RT-DETR's three gains x1/4 and x4 with fixed (gains: box = GIoU,
    # cls = class, dfl = L1; the default's result does not depend on them, tested); fixed on the gain finder's gains
    # (finder); the peers (peers); on BCCD (bccd: real images, 320 px, batch 8, 15 epochs, the backbone and neck from
    # the COCO-derived YOLOv8n through pretrained=, as train.py's --cfg + --weights; seeds interleaved; and the class
    # gain x4 with fixed)
    T="--data data/shapes.yaml --model cfg/models/rtdetr-n.yaml --epochs 20 --reg-losses ciou --jobs 2 --extra val=False"
    if [[ $stage == rtdetr || $stage == rtdetr-core ]]; then
      $PY benchmarks/sweep.py $T --weightings fixed alwa-ref alwa2 --out $R/rtdetr-shapes
    fi
    if [[ $stage == rtdetr || $stage == rtdetr-gains ]]; then
      for key in cls box dfl; do
        $PY benchmarks/sweep.py $T --weightings fixed --scale $key=0.25,4 --out $R/rtdetr-gains-$key
      done
    fi
    if [[ $stage == rtdetr || $stage == rtdetr-finder ]]; then
      mkdir -p $R/rtdetr-finder
      [ -f $R/rtdetr-finder/gains.yaml ] || $PY -m alwa_yolo.gains --weights cfg/models/rtdetr-n.yaml \
        --data data/shapes.yaml --out $R/rtdetr-finder/gains.yaml
      found=$($PY -c "import yaml, sys; print(' '.join(f'{k}={v}' for k, v in yaml.safe_load(open(sys.argv[1])).items()))" \
        $R/rtdetr-finder/gains.yaml)
      $PY benchmarks/sweep.py ${T/val=False/val=False $found} --weightings fixed --out $R/rtdetr-finder
    fi
    if [[ $stage == rtdetr || $stage == rtdetr-peers ]]; then
      $PY benchmarks/sweep.py $T --weightings fixed loss-ratio uw-so uw dwa --out $R/rtdetr-shapes
    fi
    if [[ $stage == rtdetr || $stage == rtdetr-bccd ]]; then
      $PY benchmarks/bccd_prepare.py --src "${BCCD_SRC:-../shared/datasets/BCCD}" --dst benchmarks/datasets/BCCD \
        --weights benchmarks/weights/yolov8n-coco-smartrail.pt --out $R/bccd-converter
      for seed in 0 1 2; do
        $PY benchmarks/sweep.py --data benchmarks/datasets/BCCD/BCCD.yaml --img 320 --batch 8 --jobs 2 \
          --model cfg/models/rtdetr-n.yaml --epochs 15 --reg-losses ciou --seeds $seed \
          --extra val=False pretrained=benchmarks/weights/yolov8n-coco-smartrail.pt \
          --weightings fixed alwa-ref alwa2 loss-ratio --out $R/rtdetr-bccd
      done
      $PY benchmarks/sweep.py --data benchmarks/datasets/BCCD/BCCD.yaml --img 320 --batch 8 --jobs 2 \
        --model cfg/models/rtdetr-n.yaml --epochs 15 --reg-losses ciou \
        --extra val=False pretrained=benchmarks/weights/yolov8n-coco-smartrail.pt \
        --weightings fixed --scale cls=4 --out $R/rtdetr-bccd-gains-cls
    fi
    ;;
  rtdetr-default)  # the default since 0.5 on RT-DETR is ref-ratio's run, which at RT-DETR's gains is loss-ratio's:
    # its own seed-0 runs on the demo set and BCCD, which rtdetr_table.py compares with loss-ratio's (rtdetr stage)
    $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/rtdetr-n.yaml --epochs 20 --reg-losses ciou \
      --seeds 0 --extra val=False --weightings alwa-ref --out $R/rtdetr-default-0.5/shapes
    $PY benchmarks/sweep.py --data benchmarks/datasets/BCCD/BCCD.yaml --img 320 --batch 8 \
      --model cfg/models/rtdetr-n.yaml --epochs 15 --reg-losses ciou --seeds 0 \
      --extra val=False pretrained=benchmarks/weights/yolov8n-coco-smartrail.pt \
      --weightings alwa-ref --out $R/rtdetr-default-0.5/bccd
    $PY benchmarks/rtdetr_table.py
    ;;
  default-0.5)  # the default since 0.5 tracks a replaced box loss's share all run: its L1 runs (default stage, at
    # d7d0e55) against alwa-share's, the same rule under its experimental name (at 7807fad), every seed; and seed-0
    # runs of this checkout: L1 against alwa-share's, CIoU against the 0.4 default's (where nothing may move)
    $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml --epochs 10 --reg-losses ciou l1 --seeds 0 \
      --jobs 2 --extra val=False --weightings alwa-ref --out $R/default-0.5/short
    pairs="--pair default-short default-0.5/short alwa-ref-auto-ciou-s0"
    pairs+=" --pair default-short default-0.5/short alwa-share-auto-l1-s0:alwa-ref-auto-l1-s0"
    for s in 0 1 2; do
      for f in default-short default-shapes; do pairs+=" --pair $f $f alwa-share-auto-l1-s$s:alwa-ref-auto-l1-s$s"; done
    done
    $PY benchmarks/reproduce_table.py --out $R/default-0.5 $pairs \
      --title "The default since 0.5 (the box share tracked all run) against the same rule as alwa-share (7807fad) with L1 and the 0.4 default with CIoU, demo set, 10 and 20 epochs: default-0.5/short at $(git rev-parse --short HEAD), default-short / default-shapes at d7d0e55."
    ;;
  reproduce-0.4)  # the 0.4 structure (layers, module splits, one hand-off for every head, the strategy factory)
    # changes no number: the default / rtdetr stages' seed-0 runs (made before it, this machine) and alwa2 / alwa-cal
    # from a worktree of the commit before it (REPRO_BEFORE, default f9e2f73), against the same runs of this checkout
    D="--epochs 20 --reg-losses ciou --seeds 0 --jobs 2 --extra val=False"
    $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml $D --weightings fixed alwa-ref alwa2 alwa-cal \
      --out $R/reproduce-0.4/shapes
    $PY benchmarks/sweep.py --data data/shapes-pose.yaml --model yolo11n-pose.yaml $D --weightings fixed alwa-ref \
      --out $R/reproduce-0.4/pose-yolo11n
    $PY benchmarks/sweep.py --data data/shapes-obb.yaml --model yolo11n-obb.yaml $D --weightings fixed alwa-ref \
      --out $R/reproduce-0.4/obb-yolo11n
    # the heads whose hand-off moved most in 0.4: end-to-end (YOLO26n), the anchor head, RT-DETR
    $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml $D --weightings fixed alwa-ref \
      --out $R/reproduce-0.4/yolo26n
    $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/yolov8n-anchor.yaml $D \
      --weightings fixed alwa-ref --out $R/reproduce-0.4/anchor
    $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/rtdetr-n.yaml $D --weightings fixed alwa2 \
      --out $R/reproduce-0.4/rtdetr
    before=$(mktemp -d)/before && git worktree add -f --detach "$before" "${REPRO_BEFORE:-f9e2f73}"
    (cd "$before" && $PY benchmarks/sweep.py --data data/shapes.yaml --model yolov8n.yaml $D --weightings alwa2 \
      alwa-cal \
      --out "$OLDPWD/$R/reproduce-0.4/before-shapes")
    git worktree remove --force "$before"
    pairs=""
    for w in fixed alwa-ref; do
      pairs+=" --pair default-shapes reproduce-0.4/shapes $w-auto-ciou-s0"
      pairs+=" --pair default-pose-yolo11n reproduce-0.4/pose-yolo11n $w-auto-ciou-s0"
      pairs+=" --pair default-obb-yolo11n reproduce-0.4/obb-yolo11n $w-auto-ciou-s0"
      pairs+=" --pair default-yolo26n reproduce-0.4/yolo26n $w-auto-ciou-s0"
      pairs+=" --pair default-anchor reproduce-0.4/anchor $w-auto-ciou-s0"
    done
    for w in fixed alwa2; do pairs+=" --pair rtdetr-shapes reproduce-0.4/rtdetr $w-auto-ciou-s0"; done
    $PY benchmarks/reproduce_table.py --out $R/reproduce-0.4 $pairs \
      --pair reproduce-0.4/before-shapes reproduce-0.4/shapes alwa2-auto-ciou-s0 \
      --pair reproduce-0.4/before-shapes reproduce-0.4/shapes alwa-cal-auto-ciou-s0 \
      --title "The 0.4 structure changes against the code before them (${REPRO_BEFORE:-f9e2f73}; RT-DETR's: the rtdetr stage's runs, committed in 1d8e6f5), seed 0, 20 epochs. $(git rev-parse --short HEAD) after."
    ;;
  aux)  # alwa-cal-aux (auxiliary terms at their gain ratio to box) where it differs from alwa-cal on a detector:
    # YOLO26n's l1 term, demo set, 20 epochs (the families stage's configuration, fixed and alwa-cal re-run beside it);
    # its pose / OBB rows are in the pose-obb stage, its BCCD row in the real stage
    $PY benchmarks/sweep.py --data data/shapes.yaml --model yolo26n.yaml --epochs 20 --reg-losses ciou \
      --weightings fixed alwa-cal alwa-cal-aux --jobs 2 --extra val=False --out $R/yolo26n-shapes-aux
    ;;
  gain-finder)  # the finder's stability (demo, hard, BCCD) and value (fixed from its gains against fixed and the
    # in-run calibration; reference rows copied from the aux, pose-obb and real stages' runs where those exist)
    $PY benchmarks/gain_finder.py stability --bccd benchmarks/datasets/BCCD/BCCD.yaml
    # copying is sound only if runs reproduce on this machine: one BCCD reference run trained again
    $PY benchmarks/sweep.py --data benchmarks/datasets/BCCD/BCCD.yaml --img 320 --batch 8 --extra val=False \
      --model benchmarks/weights/yolov8n-coco-smartrail.pt --epochs 15 --weightings fixed --reg-losses ciou --seeds 0 \
      --out $R/gain-finder/bccd-reproduce
    $PY benchmarks/gain_finder.py value --jobs 2
    # the anchor head's found gains with obj and cls at the 0.43 that alwa-cal's rule ends its cls group with
    $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/yolov8n-anchor.yaml --epochs 20 \
      --reg-losses ciou --weightings fixed --jobs 2 --extra val=False box=0.663 obj=1.31 cls=0.369 \
      --out $R/gain-finder/anchor-diagnosis-end-weights
    # and with the gains.yaml alwa-cal's seed-0 run wrote (its calibration x its final weights; the run predates
    # gains.yaml, so the numbers are its summary's calibration x w_final, rounded as gains.yaml rounds them)
    $PY benchmarks/sweep.py --data data/shapes.yaml --model cfg/models/yolov8n-anchor.yaml --epochs 20 \
      --reg-losses ciou --weightings fixed --jobs 2 --extra val=False box=0.659 obj=1.29 cls=0.353 \
      --out $R/gain-finder/anchor-run-gains
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
