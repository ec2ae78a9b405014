"""The estimators every model of the project is, grouped by concept, all behind scikit-learn's
contract (`contract`): LightGBM (`lightgbm`), XGBoost (`xgboost`), linear models (`linear`),
preprocessing fitted inside each fold (`preprocessed`), and the class-weight correction
(`class_weight`). Selection, tuning, the production model, its holdout, the sentinels, SHAP and
the training service's zoo fit them only through `contract.fit` or the scoring engine in
`evaluation`."""
