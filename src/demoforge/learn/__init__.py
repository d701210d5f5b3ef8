"""Behaviour cloning on demoforge datasets (optional extra ``demoforge[learn]``: torch).

    demoforge train --data runs/stack/demos.hdf5 --out policies/stack
    demoforge eval  --policy policies/stack --task stack --variation D1 --episodes 50
"""
